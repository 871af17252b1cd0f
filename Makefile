# structflow: the commands a contributor needs. `make test` is what CI runs.
SHELL := /bin/bash
.PHONY: test check-sync test-nbs test-py export readme figures clean slow

# Notebooks run in parallel (one per core); each is kept to one torch thread so they don't fight.
# STRUCTFLOW_OFFLINE=1: the tests never download pretrained weights, even on a machine that could.
NB_WORKERS ?= 2

test: check-sync test-nbs test-py

check-sync:
	python tools/check_sync.py

test-nbs:
	STRUCTFLOW_OFFLINE=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 nbdev_test --n_workers $(NB_WORKERS) --timing

test-py:
	STRUCTFLOW_OFFLINE=1 python -m pytest -q tests/

# The long checks (slow notebook cells, the model-card reproduction, FID end to end, the JupyterLab screenshot), not part of `make test`.
slow:
	nbdev_test --n_workers 1 --flags slow
	python -m pytest -q -m slow tests/ --runslow

export:
	nbdev_export

readme:
	python tools/make_readme.py

figures:
	structflow figures --out images

clean:
	nbdev_clean
	rm -rf _proc _docs build dist *.egg-info .pytest_cache
	find . -name __pycache__ -prune -exec rm -rf {} +
