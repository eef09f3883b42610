"""Custom vs native convolution benchmark; the same code as `scenelab bench conv`.

python benchmarks/conv.py [--dtype bfloat16] [--channels-last] [--quick] [--json out.json]
"""

import argparse

from scenelab.bench.conv import bench_conv
from scenelab.cli.bench import add_conv_arguments, conv_options

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_conv_arguments(parser)
    bench_conv(conv_options(parser.parse_args()))
