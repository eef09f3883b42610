"""`scenelab data download|verify|stats`: get, check and describe datasets."""

from __future__ import annotations

import argparse
from pathlib import Path

from scenelab.cli.types import path, url
from scenelab.data.spec import LIST_SPLITS


def _download(args: argparse.Namespace) -> int:
    from scenelab.data.download import MINIPLACES_ARCHIVE, download_miniplaces

    checksum = {None: MINIPLACES_ARCHIVE.checksum, "none": None}.get(args.checksum, args.checksum)
    download_miniplaces(Path(args.dir), mirror=args.mirror, checksum=checksum)
    return 0


def _verify(args: argparse.Namespace) -> int:
    from scenelab.data.verify import verify

    return verify(args.root, args.write_list and Path(args.write_list), args.split)


def _stats(args: argparse.Namespace) -> int:
    from scenelab.data.stats import print_stats

    return print_stats(args.root)


def register(subparsers: argparse._SubParsersAction) -> None:
    data = subparsers.add_parser("data", help="datasets: download MiniPlaces, verify, statistics")
    commands = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)

    download = commands.add_parser(
        "download",
        help="download and safely extract MiniPlaces (resumable, checksummed)",
        description="Download the MiniPlaces images and list files into DIR, resuming a partial "
        "download, check the archive's checksum, and extract it (refusing unsafe members).",
    )
    download.add_argument("dataset", choices=["miniplaces"], help="the dataset to download")
    download.add_argument("dir", type=path, metavar="DIR", help="folder to download into")
    download.add_argument(
        "--mirror",
        type=url,
        metavar="URL",
        help="fetch every file from URL/<name> instead of the official sites",
    )
    download.add_argument(
        "--checksum",
        metavar="ALGO:HEX",
        help="expected md5:HEX or sha256:HEX of data.tar.gz, or 'none' to skip the check "
        "(default: the known MD5)",
    )
    download.set_defaults(func=_download)

    verify = commands.add_parser(
        "verify",
        help="check every list line and image of a dataset; exit 1 on any problem",
        description="Check every list line (syntax, label range, duplicates) and every image "
        "(exists, decodes) of every split of ROOT, on all cores; print each problem with its "
        "file and line, and exit 1 if there is any.",
    )
    verify.add_argument(
        "root",
        type=path,
        metavar="ROOT",
        help="a dataset folder, 'ROOT::train=LIST' (another list file for a split), or 'digits'",
    )
    verify.add_argument(
        "--write-list",
        type=path,
        metavar="PATH",
        help="also write the usable lines of the split's list file to PATH, a new file (a "
        "mirror may lack images), and print the --data spec that trains on them",
    )
    verify.add_argument(
        "--split",
        choices=LIST_SPLITS,
        default="train",
        help="the split whose list --write-list filters (default: train)",
    )
    verify.set_defaults(func=_verify)

    stats = commands.add_parser(
        "stats",
        help="images per class and split, image sizes, per-channel mean/std",
        description="Images per class and split, image sizes, and the per-channel mean and "
        "standard deviation of the training pixels in [0, 1].",
    )
    stats.add_argument("root", type=path, metavar="ROOT", help="a dataset folder, or 'digits'")
    stats.set_defaults(func=_stats)
