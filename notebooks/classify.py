# Databricks notebook source
# MAGIC %md
# MAGIC # Classify a corpus with ctc-spark
# MAGIC
# MAGIC Runs one classification interactively and shows what it wrote: the run's counts, the results (one row
# MAGIC per document), the classes, and the documents that got an error. Re-running is incremental: documents
# MAGIC already classified with the same text by the same deployment are skipped.
# MAGIC
# MAGIC The key never goes into the notebook: name its secret (`scope/key`) and it is read with
# MAGIC `dbutils.secrets.get` into a `Secret`. On serverless or standard access mode the driver makes the calls;
# MAGIC on a dedicated cluster the executors do (`engine = auto`).

# COMMAND ----------

# MAGIC %md
# MAGIC Install the wheel first, unless the cluster or environment already has it (`make wheel` builds
# MAGIC `dist/ctc_spark-<version>-py3-none-any.whl`; `databricks bundle deploy` uploads it with a build suffix on the
# MAGIC version, `ctc_spark-<version>+<build>-py3-none-any.whl`, under the bundle's `artifacts/.internal/` folder).

# COMMAND ----------

dbutils.widgets.text("endpoint", "", "Language endpoint (https://...cognitiveservices.azure.com)")
dbutils.widgets.text("key_secret", "ctc/language-key", "Key's secret (scope/key)")
dbutils.widgets.text("project", "tickets", "Project")
dbutils.widgets.text("deployment", "prod", "Deployment")
dbutils.widgets.dropdown("kind", "single", ["single", "multi"], "Kind")
dbutils.widgets.text("input", "main.raw.tickets", "Input (table name or /Volumes path)")
dbutils.widgets.text("tables", "main.ctc", "Result tables (catalog.schema)")

# COMMAND ----------

from ctc_spark import load_settings, run_classification
from ctc_spark.io.inputs import read_corpus

if not dbutils.widgets.get("endpoint"):
    raise ValueError("set the 'endpoint' widget to your Language resource's endpoint")
settings = load_settings(
    env={
        "AZURE_LANGUAGE_ENDPOINT": dbutils.widgets.get("endpoint"),
        "AZURE_LANGUAGE_KEY_SECRET": dbutils.widgets.get("key_secret"),
    }
)
source = dbutils.widgets.get("input")
corpus = read_corpus(spark, source) if "/" in source else spark.table(source)
tables = dbutils.widgets.get("tables")

# COMMAND ----------

summary = run_classification(
    corpus,
    project=dbutils.widgets.get("project"),
    deployment=dbutils.widgets.get("deployment"),
    kind=dbutils.widgets.get("kind"),
    tables=tables,
    settings=settings,
    source=source,
    progress=print,
)
print(
    f"run {summary.run_id}: {summary.input_docs} input = {summary.skipped_docs} skipped + "
    f"{summary.succeeded_docs} succeeded + {summary.errored_docs} errored; "
    f"{summary.submits} submits, {summary.polls} polls, {summary.text_records} text records"
)

# COMMAND ----------

# MAGIC %md
# MAGIC ## This run's results (one row per document)

# COMMAND ----------

results = spark.table(f"{tables}.results").where(f"run_id = '{summary.run_id}'")
display(results.select("doc_id", "category", "confidence", "classes", "error_code", "error_message"))

# COMMAND ----------

# MAGIC %md
# MAGIC ## Top classes, and documents without a prediction

# COMMAND ----------

display(results.where("error_code IS NULL").groupBy("category").count().orderBy("count", ascending=False))

# COMMAND ----------

display(results.where("error_code IS NOT NULL").groupBy("error_code").count().orderBy("count", ascending=False))

# COMMAND ----------

# MAGIC %md
# MAGIC ## Run history
# MAGIC More queries (one row per document and class, errors by code, documents by model) are in `sql/`.

# COMMAND ----------

display(spark.table(f"{tables}.runs").orderBy("started_at", ascending=False).limit(20))
