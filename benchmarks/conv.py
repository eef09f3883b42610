"""Custom vs native convolution benchmark; the same code as `scenelab bench conv`.

python benchmarks/conv.py [--dtype bfloat16] [--channels-last] [--quick] [--json out.json]
"""

import argparse

from scenelab.bench.conv import run_from_args
from scenelab.cli.bench import add_conv_arguments

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_conv_arguments(parser)
    raise SystemExit(run_from_args(parser.parse_args()))
