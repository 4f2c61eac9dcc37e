"""`ctc-spark corpus generate`: write a synthetic labelled (or unlabelled) corpus for tests and demos."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register", "run_generate"]


def register(subparsers: Any) -> None:
    """Add `corpus generate`."""
    corpus = subparsers.add_parser("corpus", help="synthetic corpora")
    sub = corpus.add_subparsers(dest="corpus_command", metavar="ACTION", required=True)
    g = sub.add_parser("generate", help="write a learnable synthetic corpus")
    g.add_argument("--docs", type=int, required=True, help="number of documents")
    g.add_argument("--kind", choices=("single", "multi"), default="single")
    g.add_argument("--classes", type=int, default=5, help="number of classes (1-200)")
    g.add_argument("--min-words", type=int, default=20)
    g.add_argument("--max-words", type=int, default=200)
    g.add_argument("--multi-label-rate", type=float, default=0.3)
    g.add_argument("--noise", type=float, default=0.0, help="share of topic words borrowed from other classes (0-1)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--id-prefix", default="doc")
    g.add_argument("--unlabelled", action="store_true", help="write only id and text")
    g.add_argument("--format", choices=("parquet", "json", "csv", "delta"), default="parquet")
    g.add_argument("--out", required=True, help="output path")
    g.set_defaults(func=run_generate)


def run_generate(args: argparse.Namespace) -> int:
    """Generate and write the corpus with Spark."""
    from ctc_spark.config import load_settings
    from ctc_spark.io.session import get_spark
    from ctc_spark.local.corpus import corpus_dataframe, generate_corpus

    docs = generate_corpus(
        args.docs,
        kind=args.kind,
        n_classes=args.classes,
        seed=args.seed,
        min_words=args.min_words,
        max_words=args.max_words,
        multi_label_rate=args.multi_label_rate,
        noise=args.noise,
        id_prefix=args.id_prefix,
    )
    spark = get_spark(load_settings(args.config).spark)
    df = corpus_dataframe(spark, docs, kind=args.kind, labelled=not args.unlabelled)
    if args.format == "csv" and "labels" in df.columns:
        from pyspark.sql import functions as F

        df = df.withColumn("labels", F.concat_ws("|", "labels"))
    df.write.format(args.format).mode("overwrite").option("header", True).save(args.out)
    print(f"wrote {len(docs)} {args.kind}-label documents to {args.out} ({args.format})")
    return 0
