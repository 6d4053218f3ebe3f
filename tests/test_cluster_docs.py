"""The SLURM snippet of experiments/README.md is valid for the installed dask-jobqueue (issue 11.5).

The snippet is taken from the README as it stands and run up to `cluster.scale`, with the
loopback interface instead of the cluster's internal one and a free port: it builds the
`SLURMCluster` (a local scheduler, no job submitted) and the job script is checked line by line.
"""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "experiments" / "README.md"


def snippet() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"```python\n(# start_cluster\.py.*?)```", text, re.S)
    assert match, "experiments/README.md has no start_cluster.py snippet"
    return match.group(1)


def test_the_slurm_snippet_builds_a_cluster_whose_workers_reach_the_scheduler():
    code = snippet()
    assert "cluster.scale(jobs=" in code and "scheduler_options=" in code
    local = code.split("cluster.scale(")[0]  # build the cluster, submit nothing
    local = local.replace('"ib0"', '"lo"').replace('"port": 8786', '"port": 0') \
        .replace('"dashboard_address": ":8787"', '"dashboard_address": None')
    namespace: dict = {}
    exec(compile(local, str(README), "exec"), namespace)  # noqa: S102 - our own documentation
    cluster = namespace["cluster"]
    try:
        script = cluster.job_script()
        address = cluster.scheduler_address
    finally:
        cluster.close()
    # the scheduler listens on the named interface, and the workers are told that address
    assert address.startswith("tcp://127.0.0.1:")
    worker = next(line for line in script.splitlines() if "dask_worker" in line)
    assert worker.startswith("/proj/uvts/venv/bin/python -m distributed.cli.dask_worker")
    assert f" {address} " in worker
    assert "--interface lo" in worker
    assert "--nthreads 1" in worker and "--nworkers 16" in worker
    assert "--lifetime 3h50m" in worker and "--lifetime-stagger 5m" in worker
    for line in ("#SBATCH -A my-project", "#SBATCH -p core", "#SBATCH --cpus-per-task=16",
                 "#SBATCH -t 04:00:00", "source /proj/uvts/venv/bin/activate",
                 "export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1"):
        assert line in script.splitlines(), line
    assert re.search(r"^#SBATCH --mem=\d+G$", script, re.M)
