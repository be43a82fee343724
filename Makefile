# Border-regions pipeline. `make all` regenerates every output; every target is a real file, so a
# second `make all` with nothing changed does nothing.
#
#   make all DATA_DIR=../shared/data   build everything from the data pack (creates .venv first)
#   make data                          download the canonical sources into DATA_DIR (default ./data)
#   make test                          run the test suite
#   make clean                         remove generated outputs
#
#   make studies -j4                   border zones of every focus country, in parallel
#
# DATA_DIR defaults to $PIPELINE_DATA_DIR, else ./data. PYTHON may name another interpreter that has
# the package installed (e.g. `make all PYTHON=python3`); by default a .venv is made and used.
# FOCUS picks one of study.focus_countries (default: the first); OUT is the output folder.

DATA_DIR ?= $(or $(PIPELINE_DATA_DIR),data)
export PIPELINE_DATA_DIR := $(abspath $(DATA_DIR))
OUT   ?= outputs
FOCUS ?=
ifneq ($(FOCUS),)
export PIPELINE_FOCUS := $(FOCUS)
endif
# SCOPE=borders stops after the border zones and regions (no network, accessibility, influence, maps).
SCOPE ?= full

VENV   ?= .venv
PYTHON ?= $(VENV)/bin/python
# The virtualenv is set up on demand when PYTHON is the venv's interpreter.
SETUP  := $(if $(filter $(VENV)/bin/python,$(PYTHON)),$(VENV)/.installed,)
PIPE   := $(PYTHON) -m pipeline

STAGES := $(OUT)/stages
CONFIG := layers/study.yaml layers/sources.yaml layers/region_fixes.yaml
COMMON := pipeline/__init__.py pipeline/__main__.py pipeline/cli.py pipeline/config.py \
          pipeline/errors.py pipeline/io.py pipeline/geodesy.py pipeline/topology.py pipeline/styles.py
# Source files the ingest stage reads, as listed by layers/sources.yaml (empty before set-up). Only
# those present are prerequisites: a missing one is reported by the pipeline, with how to get it.
sources = $(wildcard $(shell $(PIPE) --quiet --data-dir '$(PIPELINE_DATA_DIR)' sources --stage $(1) 2>/dev/null))
SOURCES_INGEST  := $(call sources,ingest)
SOURCES_NETWORK := $(call sources,network)

.PHONY: all setup data check-data test clean help bench maps
.DELETE_ON_ERROR:

MAP_FILES := $(foreach m,zones travel_time barrier influence axes,$(OUT)/maps/$(m).png $(OUT)/maps/$(m).pdf)

ifeq ($(SCOPE),borders)
all: $(OUT)/borders.gpkg $(OUT)/REPORT.md $(OUT)/VALIDATION.md
RESULTS :=
else
all: $(OUT)/borders.gpkg $(OUT)/REPORT.md $(OUT)/border_regions.qgs $(OUT)/accessibility.gpkg \
	$(OUT)/influence.gpkg $(MAP_FILES) $(OUT)/VALIDATION.md
# Outputs of the network stages that publishing and validation read.
RESULTS := $(OUT)/accessibility.gpkg $(OUT)/influence.gpkg
endif

maps: $(MAP_FILES)

help:
	@sed -n '1,16p' Makefile | sed 's/^# \{0,1\}//'

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[test]'
	touch $@

# Rebuild when DATA_DIR points elsewhere or FOCUS changes: this file is rewritten (at parse time) only
# when they change, and the ingest stage depends on it.
$(shell mkdir -p $(STAGES) && (echo '$(PIPELINE_DATA_DIR) $(FOCUS)' | cmp -s - $(STAGES)/data_dir.txt \
	|| echo '$(PIPELINE_DATA_DIR) $(FOCUS)' > $(STAGES)/data_dir.txt))

$(STAGES)/ingest.gpkg: pipeline/ingest.py $(COMMON) $(CONFIG) $(SOURCES_INGEST) $(STAGES)/data_dir.txt | $(SETUP)
	$(PIPE) ingest --out $@

$(STAGES)/borders.gpkg: $(STAGES)/ingest.gpkg pipeline/borders.py $(COMMON) $(CONFIG) | $(SETUP)
	$(PIPE) borders --ingest $< --out $@

$(STAGES)/zones.gpkg: $(STAGES)/ingest.gpkg $(STAGES)/borders.gpkg pipeline/zones.py $(COMMON) $(CONFIG) | $(SETUP)
	$(PIPE) zones --ingest $< --borders $(STAGES)/borders.gpkg --out $@

$(STAGES)/border_regions.gpkg: $(STAGES)/ingest.gpkg $(STAGES)/borders.gpkg $(STAGES)/zones.gpkg \
		pipeline/border_regions.py $(COMMON) $(CONFIG) | $(SETUP)
	$(PIPE) border-regions --ingest $< --borders $(STAGES)/borders.gpkg --zones $(STAGES)/zones.gpkg --out $@

$(STAGES)/network.gpkg: pipeline/network.py $(COMMON) $(CONFIG) layers/network.yaml $(SOURCES_NETWORK) \
		$(STAGES)/data_dir.txt | $(SETUP)
	$(PIPE) network --out $@

$(STAGES)/crossings.gpkg: $(STAGES)/network.gpkg $(STAGES)/borders.gpkg pipeline/crossings.py $(COMMON) \
		$(CONFIG) layers/network.yaml layers/checkpoints.yaml | $(SETUP)
	$(PIPE) crossings --network $< --borders $(STAGES)/borders.gpkg --out $@

ACCESS_TIFS := $(foreach s,open current closed,$(OUT)/rasters/access_$(s).tif) \
               $(foreach s,current closed,$(OUT)/rasters/barrier_$(s).tif)
$(OUT)/accessibility.gpkg $(ACCESS_TIFS) &: $(STAGES)/crossings.gpkg $(STAGES)/ingest.gpkg \
		$(STAGES)/zones.gpkg $(STAGES)/border_regions.gpkg pipeline/accessibility.py pipeline/rasters.py \
		pipeline/poles.py $(COMMON) $(CONFIG) layers/network.yaml layers/accessibility.yaml layers/poles.yaml | $(SETUP)
	$(PIPE) accessibility --stages $(STAGES) --out $(OUT)/accessibility.gpkg --rasters $(OUT)/rasters

$(OUT)/influence.gpkg $(OUT)/rasters/huff_probability.tif &: $(STAGES)/crossings.gpkg $(STAGES)/ingest.gpkg \
		$(STAGES)/network.gpkg $(STAGES)/zones.gpkg $(STAGES)/border_regions.gpkg pipeline/influence.py \
		pipeline/accessibility.py pipeline/rasters.py pipeline/poles.py $(COMMON) $(CONFIG) layers/network.yaml \
		layers/accessibility.yaml layers/poles.yaml layers/influence.yaml layers/checkpoints.yaml | $(SETUP)
	$(PIPE) influence --stages $(STAGES) --out $(OUT)/influence.gpkg --rasters $(OUT)/rasters

PUBLISHED := $(OUT)/borders.gpkg $(OUT)/REPORT.md $(if $(RESULTS),$(OUT)/border_regions.qgs)
$(PUBLISHED) &: $(STAGES)/ingest.gpkg $(STAGES)/borders.gpkg $(STAGES)/zones.gpkg \
		$(STAGES)/border_regions.gpkg $(RESULTS) pipeline/report.py \
		pipeline/qgis_project.py $(COMMON) $(CONFIG) layers/official_borders.yaml \
		layers/influence.yaml | $(SETUP)
	$(PIPE) publish --stages $(STAGES) --out $(OUT)/borders.gpkg --report $(OUT)/REPORT.md \
		$(if $(RESULTS),--accessibility $(OUT)/accessibility.gpkg --influence $(OUT)/influence.gpkg \
		--project $(OUT)/border_regions.qgs)

# Independent studies, one per focus country of layers/study.yaml (or STUDIES="KAZ UZB"): the border
# zones and regions of each into $(OUT)/studies/<code>/. `make -j4 studies` runs four at once.
# (Listed only when `studies` is asked for, so other targets do not start Python to list them.)
ifneq ($(filter studies,$(MAKECMDGOALS)),)
STUDIES ?= $(shell $(PIPE) --quiet studies 2>/dev/null)
endif
STUDY_DIRS := $(foreach c,$(STUDIES),$(OUT)/studies/$(c))
.PHONY: studies $(STUDY_DIRS)
studies: $(STUDY_DIRS)
$(STUDY_DIRS): | $(SETUP)
	+@$(MAKE) --no-print-directory all SCOPE=borders OUT=$@ FOCUS=$(notdir $@)

data: | $(SETUP)
	$(PIPE) download

check-data: | $(SETUP)
	$(PIPE) check-data

test: | $(SETUP)
	$(PYTHON) -m pytest $(PYTEST_ARGS)

$(MAP_FILES) &: $(OUT)/borders.gpkg $(OUT)/accessibility.gpkg $(OUT)/influence.gpkg pipeline/maps.py \
		$(COMMON) $(CONFIG) | $(SETUP)
	$(PIPE) maps --outputs $(OUT) --out $(OUT)/maps

# Every output layer valid, with a CRS, not empty; belts overlap only near shared corners.
$(OUT)/VALIDATION.md: $(OUT)/borders.gpkg $(RESULTS) pipeline/validate.py $(COMMON) | $(SETUP)
	$(PIPE) validate --outputs $(OUT) --out $@

# Benchmark (not a test): cold and no-op `make all` with each stage's time and memory, parallel
# studies, the accessibility raster against GRASS r.cost and scikit-image MCP, the network against
# networkx, growth with cells and edges. BENCH_RES: cell sizes (m) compared with the peers, e.g.
# BENCH_RES="1000 500". Builds in a temporary copy (outputs/ untouched); writes docs/benchmarks.md.
BENCH_RES ?= 1000 500
bench: | $(SETUP)
	$(PYTHON) bench/bench.py --res $(BENCH_RES) --data-dir '$(PIPELINE_DATA_DIR)'

clean:
	rm -rf $(STAGES) $(OUT)/studies $(OUT)/rasters $(OUT)/borders.gpkg $(OUT)/REPORT.md $(OUT)/accessibility.gpkg \
		$(OUT)/influence.gpkg $(OUT)/border_regions.qgs $(OUT)/maps \
		$(OUT)/VALIDATION.md
