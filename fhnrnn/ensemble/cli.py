"""``python -m fhnrnn ensemble {list,train,run,aggregate,compare,compare-tables}``: the Snakefile's
entries, and the checks of a retraining and a re-measurement against the shipped files."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from fhnrnn.ensemble.factors import SEEDS_PER_ARM, design
from fhnrnn.ensemble.results import (
    aggregate,
    compare_tables,
    result_paths,
    run_member,
    train_member,
)
from fhnrnn.ensemble.train import compare_networks

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m fhnrnn ensemble",
                                     description="The ensemble study's runs (issue 12).")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="print the run ids of the design, one per line")
    train = commands.add_parser("train", help="train one run and ship its network")
    run = commands.add_parser("run", help="measure the shipped network of one run")
    for command in (train, run):
        command.add_argument("run_id",
                             help="<cell>-<init>-<data>-s<seed>, e.g. paper-rot90_200-study-s0")
        command.add_argument("--networks-dir", type=Path, default=None,
                             help="folder of the networks (default: artifacts/ensemble)")
        command.add_argument("--overwrite", action="store_true",
                             help="replace existing files of the run")
    train.add_argument("--progress", action="store_true", help="show a progress bar")
    run.add_argument("--out-dir", type=Path, required=True, help="folder of the result files")
    gather = commands.add_parser("aggregate", help="gather the per-run rows into one CSV")
    gather.add_argument("--runs-dir", type=Path, required=True, help="folder of the result files")
    gather.add_argument("--out", type=Path, required=True, help="the CSV to write")
    gather.add_argument("--seeds", type=int, default=SEEDS_PER_ARM,
                        help=f"seeds per arm (default {SEEDS_PER_ARM})")
    gather.add_argument("--measured", action="store_true",
                        help="only the runs that have a result file (a sweep under way)")
    compare = commands.add_parser("compare", help="retrained networks against the shipped ones")
    compare.add_argument("--networks-dir", type=Path, required=True,
                         help="folder of the retrained networks")
    tables = commands.add_parser("compare-tables",
                                 help="a re-measured runs.csv against the shipped one")
    tables.add_argument("--reference", type=Path, required=True,
                        help="folder of the reference runs.csv (e.g. results/ensemble)")
    tables.add_argument("--table", type=Path, required=True,
                        help="folder of the re-measured runs.csv")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ensemble command; 0 on success, 1 where compared tables differ, 2 on bad
    arguments."""
    arguments = _parser().parse_args(argv)
    try:
        if arguments.command == "list":
            print("\n".join(spec.run_id for spec in design()))
        elif arguments.command == "train":
            path = train_member(arguments.run_id, arguments.networks_dir,
                                overwrite=arguments.overwrite, progress=arguments.progress)
            print(f"{arguments.run_id}: network -> {path}")
        elif arguments.command == "run":
            row = run_member(arguments.run_id, arguments.out_dir,
                             networks=arguments.networks_dir, overwrite=arguments.overwrite)
            print(f"{row['run_id']}: train MSE {row['train_mse']:.4f}, fixed points at "
                  f"{row['n_currents_with_fp']}/{row['n_currents']} currents, "
                  f"RMSE to v* {row['rmse_vstar']:.3f}, to <v> {row['rmse_cycle_mean']:.3f}")
        elif arguments.command == "compare":
            _print_comparison(compare_networks(arguments.networks_dir))
        elif arguments.command == "compare-tables":
            return _print_table_comparison(compare_tables(arguments.reference, arguments.table))
        else:
            run_ids = sorted(spec.run_id for spec in design(arguments.seeds))
            if arguments.measured:
                run_ids = [run_id for run_id in run_ids
                           if result_paths(arguments.runs_dir, run_id)[0].is_file()]
            count = aggregate(arguments.runs_dir, arguments.out, run_ids)
            print(f"{count} runs -> {arguments.out}")
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def _print_table_comparison(differences: pd.DataFrame) -> int:
    """Print the differing cells; 1 if there are any, else 0."""
    if differences.empty:
        print("the tables agree in every run and column (timings left out)")
        return 0
    print(differences.to_string(index=False))
    print(f"{len(differences)} cells in {differences['run_id'].nunique()} runs differ")
    return 1


def _print_comparison(rows: list[dict]) -> None:
    print(f"{'run':32s} {'bitwise':>8s} {'train MSE shipped':>18s} {'retrained':>10s}")
    for row in rows:
        print(f"{row['run_id']:32s} {'yes' if row['identical'] else 'no':>8s} "
              f"{row['train_mse_shipped']:18.4g} {row['train_mse_retrained']:10.4g}")
    same = sum(row["identical"] for row in rows)
    print(f"{same} of {len(rows)} retrained networks are bitwise the shipped ones")
