# Border-regions pipeline. `make all` regenerates every output; every target is a real file, so a
# second `make all` with nothing changed does nothing.
#
#   make all DATA_DIR=../shared/data   build everything from the data pack (creates .venv first)
#   make data                          download the canonical sources into DATA_DIR (default ./data)
#   make data-worldpop                 download WorldPop 1 km population of the grid's countries (optional)
#   make test                          run the test suite
#   make clean                         remove generated outputs
#
#   make studies -j4                   border zones of every focus country, in parallel
#
# DATA_DIR defaults to $PIPELINE_DATA_DIR, else ./data. PYTHON may name another interpreter that has
# the package installed (e.g. `make all PYTHON=python3`); by default a .venv is made and used.
# FOCUS picks one of study.focus_countries (default: the first); OUT is the output folder. Independent
# stages run at once, one per core; JOBS=1 (or make -j1) runs one at a time, with less memory at once.

# The values of DATA_DIR, OUT and FOCUS reach shell commands: refuse characters a shell would act on
# (no command can be injected, not even in a dry run `make -n`). OUT names Make's targets, and Make
# splits file names on spaces: a space is refused in OUT (a symbolic link to the folder works); DATA_DIR
# may have spaces (Make reaches the data files through a link without them, $(STAGES)/data).
UNSAFE := ; ' " ` | & < > ( ) \ * ? [ ] { } ! ~ $$ \#
# Checked on the unexpanded values ($(value …)): Make would run a $(shell …) given in them on expansion.
$(foreach v,DATA_DIR OUT FOCUS PIPELINE_DATA_DIR,$(foreach c,$(UNSAFE),$(if $(findstring $(c),$(value $(v))),\
  $(error $(v) contains '$(c)': use a path of letters, digits and - _ . / only))))
$(if $(word 2,$(value OUT)),$(error OUT contains a space: Make splits file names on spaces; use a path \
  without spaces (a symbolic link to the folder works)))

DATA_DIR ?= $(or $(PIPELINE_DATA_DIR),data)
# Absolute; a path with spaces is one string (abspath would split it into words).
export PIPELINE_DATA_DIR := $(if $(word 2,$(DATA_DIR)),$(if $(filter /%,$(firstword $(DATA_DIR))),,$(CURDIR)/)$(DATA_DIR),$(abspath $(DATA_DIR)))
OUT   ?= outputs
FOCUS ?=
ifneq ($(FOCUS),)
export PIPELINE_FOCUS := $(FOCUS)
endif
# SCOPE=borders stops after the border zones and regions (no network, accessibility, influence, maps).
SCOPE ?= full

# Stages that do not depend on each other run at once, one per core (accessibility, influence and economy;
# the maps beside publish and validation): JOBS=1 or `make -j1` runs one at a time (less memory: two
# stages at once add up, docs/benchmarks.md). Set only by the top-level make; a sub-make (`studies`)
# shares its parent's job slots.
JOBS ?= $(shell nproc 2>/dev/null || echo 1)
ifeq ($(MAKELEVEL),0)
MAKEFLAGS += -j$(JOBS)
endif

VENV   ?= .venv
PYTHON ?= $(VENV)/bin/python
# The virtualenv is set up on demand when PYTHON is the venv's interpreter.
SETUP  := $(if $(filter $(VENV)/bin/python,$(PYTHON)),$(VENV)/.installed,)
# Each command runs as `python -m pipeline` would, but forked from a warm process that imported the
# libraries once for the whole build (pipeline/warm.py: about 10 CPU-seconds less over a cold `make all`);
# the first command starts it and runs the ordinary way. PIPELINE_WARM=0 runs every command the ordinary way.
PIPE   := $(PYTHON) -I -S pipeline/warm_client.py

STAGES := $(OUT)/stages
# The shared core every stage reads: command line, core configuration, I/O, geodesy, styles. Each
# stage adds its own module, its own configuration model and YAML (names as in pipeline/paths.py).
CORE := pipeline/__init__.py pipeline/__main__.py pipeline/cli.py pipeline/paths.py pipeline/errors.py \
        pipeline/io.py pipeline/outputs.py pipeline/geodesy.py pipeline/topology.py pipeline/styles.py \
        pipeline/progress.py \
        pipeline/config/__init__.py pipeline/config/base.py pipeline/config/study.py
CONFIG := layers/study.yaml layers/sources.yaml layers/region_fixes.yaml
CONF_NETWORK := pipeline/config/network.py layers/network.yaml
CONF_ACCESS := $(CONF_NETWORK) pipeline/config/accessibility.py layers/accessibility.yaml layers/poles.yaml \
               pipeline/poles.py pipeline/rasters.py pipeline/kernels.py
CONF_INFLUENCE := pipeline/config/influence.py layers/influence.yaml layers/checkpoints.yaml
CONF_ECONOMY := pipeline/config/economy.py layers/economy.yaml $(wildcard layers/stats/*.csv)
CONF_POPULATION := pipeline/config/population.py layers/population.yaml
# Every configuration file is checked (pipeline check-config: types, ranges, unknown keys, checks that
# span files) before any stage runs; this stamp records that the current files passed.
CHECKED := $(STAGES)/config.ok

.PHONY: all setup data data-worldpop check-data check-config test test-fast clean help bench bench-quick bench-osm maps
# No .DELETE_ON_ERROR: every stage writes to temporaries renamed into place only when all of its
# outputs are complete (pipeline.io.all_or_nothing), so a failed or killed stage leaves the previous
# outputs as they were and Make must not delete them.

# Every map of pipeline/maps.py (MAPS; a test keeps the list equal to the module's), drawn in one run once
# every stage is done. (Drawing the maps that need no influence layer in a run of their own, beside the
# influence stage, was measured: a second process's 1.4 CPU-seconds more, and no shorter build on 2 cores;
# so was drawing the maps that need no population layer beside the population stage, once influence had its
# Huff worker: 1.2 CPU-seconds more, 38.1 s against 38.5 s, within the machine's noise.)
MAPS := zones travel_time barrier influence influence_kazakh axes economy trade population barrier_people
MAP_FILES := $(foreach m,$(MAPS),$(OUT)/maps/$(m).png $(OUT)/maps/$(m).pdf)

ifeq ($(SCOPE),borders)
all: $(OUT)/borders.gpkg $(OUT)/REPORT.md $(OUT)/VALIDATION.md
RESULTS :=
else
# Influence first: of the stages that are ready, Make starts the first it meets in the order of these lists
# (here and in RESULTS), and influence is the longest stage of the longest chain.
all: $(OUT)/influence.gpkg $(OUT)/borders.gpkg $(OUT)/REPORT.md $(OUT)/border_regions.qgs $(OUT)/accessibility.gpkg \
	$(OUT)/economy.gpkg $(OUT)/population.gpkg $(OUT)/people_influence.gpkg $(MAP_FILES) \
	$(OUT)/VALIDATION.md
# Outputs of the network, economy and population stages that publishing and validation read.
RESULTS := $(OUT)/influence.gpkg $(OUT)/accessibility.gpkg $(OUT)/economy.gpkg $(OUT)/population.gpkg \
           $(OUT)/people_influence.gpkg
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
# Make reaches the data files through this link (the data directory's path may have spaces).
$(shell [ "$$(readlink $(STAGES)/data)" = '$(PIPELINE_DATA_DIR)' ] || ln -sfn '$(PIPELINE_DATA_DIR)' $(STAGES)/data)

# Source files the ingest and network stages read, as listed by layers/sources.yaml and network.yaml
# (empty before set-up). Asking the pipeline costs a Python start, so the lists are kept in
# $(STAGES)/sources.mk, remade only when the configuration, the data directory or the set-up changes
# (a no-op `make all` starts no Python). Only the files present are prerequisites: a missing one is
# reported by the pipeline, with how to get it. The same Python start checks the whole configuration
# (check-config below) and, when it passes, records that (the first step of a cold `make all` is one
# start, not two); when it fails, the check-config rule runs it again to report every problem.
$(STAGES)/sources.mk: layers/sources.yaml layers/network.yaml layers/study.yaml $(STAGES)/data_dir.txt \
		$(wildcard pipeline/config/*.py) pipeline/download.py pipeline/cli.py $(SETUP)
	@rm -f $@.tmp; $(PIPE) --quiet --data-dir '$(PIPELINE_DATA_DIR)' check-config --make-sources $@.tmp \
	   --under $(STAGES)/data >/dev/null 2>&1 && touch $(CHECKED); \
	   test -s $@.tmp || { echo "SOURCES_INGEST :="; echo "SOURCES_NETWORK :="; } > $@.tmp
	@mv $@.tmp $@
ifneq ($(MAKECMDGOALS),$(filter clean help,$(MAKECMDGOALS)))   # not for `make clean` or `make help` alone
-include $(STAGES)/sources.mk
endif
SOURCES_LISTED  := $(SOURCES_INGEST) $(SOURCES_NETWORK)
SOURCES_INGEST  := $(wildcard $(SOURCES_INGEST))
SOURCES_NETWORK := $(wildcard $(SOURCES_NETWORK))
# A first run on a machine with internet: a source the configuration lists but DATA_DIR lacks is
# downloaded first (`make data`, checked as it says) before the stages that read it. Offline, the
# download fails with how to point DATA_DIR at a copy of the data pack.
NEED_DATA := $(if $(filter-out $(SOURCES_INGEST) $(SOURCES_NETWORK),$(SOURCES_LISTED)),data)

check-config: $(CHECKED)
$(CHECKED): $(wildcard layers/*.yaml) $(CONF_ECONOMY) $(wildcard pipeline/config/*.py) | $(SETUP)
	$(PIPE) check-config
	@touch $@

$(STAGES)/ingest.gpkg: pipeline/ingest.py $(CORE) $(CONFIG) $(SOURCES_INGEST) $(STAGES)/data_dir.txt \
		| $(SETUP) $(CHECKED) $(NEED_DATA)
	$(PIPE) ingest --out $@

$(STAGES)/borders.gpkg: $(STAGES)/ingest.gpkg pipeline/borders.py $(CORE) $(CONFIG) | $(SETUP) $(CHECKED)
	$(PIPE) borders --ingest $< --out $@

$(STAGES)/zones.gpkg: $(STAGES)/ingest.gpkg $(STAGES)/borders.gpkg pipeline/zones.py pipeline/borders.py $(CORE) $(CONFIG) \
		| $(SETUP) $(CHECKED)
	$(PIPE) zones --ingest $< --borders $(STAGES)/borders.gpkg --out $@

$(STAGES)/border_regions.gpkg: $(STAGES)/ingest.gpkg $(STAGES)/borders.gpkg $(STAGES)/zones.gpkg \
		pipeline/border_regions.py pipeline/borders.py $(CORE) $(CONFIG) | $(SETUP) $(CHECKED)
	$(PIPE) border-regions --ingest $< --borders $(STAGES)/borders.gpkg --zones $(STAGES)/zones.gpkg --out $@

$(STAGES)/network.gpkg: $(STAGES)/ingest.gpkg pipeline/network.py $(CORE) $(CONFIG) $(CONF_NETWORK) \
		$(SOURCES_NETWORK) $(STAGES)/data_dir.txt | $(SETUP) $(CHECKED) $(NEED_DATA)
	$(PIPE) network --ingest $< --out $@

$(STAGES)/crossings.gpkg: $(STAGES)/network.gpkg $(STAGES)/borders.gpkg pipeline/crossings.py $(CORE) \
		$(CONFIG) $(CONF_NETWORK) layers/checkpoints.yaml | $(SETUP) $(CHECKED)
	$(PIPE) crossings --network $< --borders $(STAGES)/borders.gpkg --out $@

# Cells and poles joined to the network once, for accessibility and influence; it needs neither the zones
# nor the border regions, so it runs beside them.
$(STAGES)/linked.arrays: $(STAGES)/crossings.gpkg $(STAGES)/ingest.gpkg pipeline/link.py pipeline/accessibility.py \
		pipeline/crossings.py pipeline/network.py $(CORE) $(CONFIG) $(CONF_ACCESS) | $(SETUP) $(CHECKED)
	$(PIPE) link --stages $(STAGES)

ACCESS_TIFS := $(foreach s,open current closed,$(OUT)/rasters/access_$(s).tif) \
               $(foreach s,current closed,$(OUT)/rasters/barrier_$(s).tif) $(STAGES)/crossing_hours.tif
$(OUT)/accessibility.gpkg $(ACCESS_TIFS) &: $(STAGES)/linked.arrays $(STAGES)/crossings.gpkg $(STAGES)/ingest.gpkg \
		$(STAGES)/zones.gpkg $(STAGES)/border_regions.gpkg pipeline/accessibility.py pipeline/link.py \
		pipeline/crossings.py pipeline/network.py $(CORE) $(CONFIG) $(CONF_ACCESS) | $(SETUP) $(CHECKED)
	$(PIPE) accessibility --stages $(STAGES) --out $(OUT)/accessibility.gpkg --rasters $(OUT)/rasters

INFLUENCE_AREAS := $(STAGES)/catchment_poles.tif $(STAGES)/market_poles.tif
$(OUT)/influence.gpkg $(OUT)/rasters/huff_probability.tif $(INFLUENCE_AREAS) &: $(STAGES)/linked.arrays \
		$(STAGES)/crossings.gpkg \
		$(STAGES)/ingest.gpkg $(STAGES)/network.gpkg $(STAGES)/zones.gpkg $(STAGES)/border_regions.gpkg \
		pipeline/influence.py pipeline/link.py pipeline/accessibility.py pipeline/crossings.py pipeline/network.py pipeline/statistics.py pipeline/sensitivity.py $(CORE) \
		$(CONFIG) $(CONF_ACCESS) $(CONF_INFLUENCE) $(CONF_ECONOMY) | $(SETUP) $(CHECKED)
	$(PIPE) influence --stages $(STAGES) --out $(OUT)/influence.gpkg --rasters $(OUT)/rasters

$(OUT)/economy.gpkg: $(STAGES)/ingest.gpkg $(STAGES)/borders.gpkg $(STAGES)/zones.gpkg \
		$(STAGES)/border_regions.gpkg $(STAGES)/crossings.gpkg pipeline/economy.py pipeline/statistics.py \
		pipeline/poles.py pipeline/economy_report.py pipeline/config/accessibility.py layers/poles.yaml $(CORE) $(CONFIG) \
		$(CONF_ECONOMY) | $(SETUP) $(CHECKED)
	$(PIPE) economy --stages $(STAGES) --out $@

# Not after the influence stage: the two run at once (the people in the areas of influence are stage 5c's).
$(OUT)/population.gpkg $(OUT)/rasters/population.tif $(OUT)/rasters/person_hours_lost_current.tif \
		$(STAGES)/population_surface.tif &: $(STAGES)/ingest.gpkg $(STAGES)/borders.gpkg \
		$(STAGES)/zones.gpkg $(STAGES)/border_regions.gpkg $(STAGES)/network.gpkg $(ACCESS_TIFS) \
		$(STAGES)/crossings.gpkg pipeline/population.py pipeline/statistics.py pipeline/link.py \
		pipeline/zones.py pipeline/borders.py pipeline/network.py pipeline/accessibility.py pipeline/crossings.py \
		$(CORE) $(CONFIG) $(CONF_ECONOMY) \
		$(CONF_POPULATION) $(CONF_ACCESS) | $(SETUP) $(CHECKED)
	$(PIPE) population --stages $(STAGES) --out $(OUT)/population.gpkg --rasters $(OUT)/rasters

$(OUT)/people_influence.gpkg: $(STAGES)/population_surface.tif $(OUT)/influence.gpkg $(INFLUENCE_AREAS) \
		$(STAGES)/ingest.gpkg \
		$(STAGES)/zones.gpkg $(STAGES)/border_regions.gpkg pipeline/people_influence.py pipeline/population.py \
		pipeline/link.py \
		pipeline/statistics.py pipeline/zones.py pipeline/borders.py pipeline/accessibility.py pipeline/network.py \
		pipeline/crossings.py $(CORE) $(CONFIG) $(CONF_ACCESS) $(CONF_INFLUENCE) $(CONF_ECONOMY) $(CONF_POPULATION) \
		| $(SETUP) $(CHECKED)
	$(PIPE) people-influence --stages $(STAGES) --out $@

PUBLISHED := $(OUT)/borders.gpkg $(OUT)/REPORT.md $(if $(RESULTS),$(OUT)/border_regions.qgs)
$(PUBLISHED) &: $(STAGES)/ingest.gpkg $(STAGES)/borders.gpkg $(STAGES)/zones.gpkg \
		$(STAGES)/border_regions.gpkg $(RESULTS) pipeline/publish.py pipeline/report.py pipeline/economy_report.py \
		pipeline/population_report.py pipeline/border_regions.py pipeline/borders.py pipeline/economy.py \
		pipeline/ingest.py pipeline/poles.py pipeline/statistics.py pipeline/zones.py pipeline/config/accessibility.py \
		pipeline/qgis_project.py $(CORE) $(CONFIG) layers/official_borders.yaml \
		$(if $(RESULTS),pipeline/config/influence.py layers/influence.yaml $(CONF_ECONOMY) $(CONF_POPULATION)) \
		| $(SETUP) $(CHECKED)
	$(PIPE) publish --stages $(STAGES) --out $(OUT)/borders.gpkg --report $(OUT)/REPORT.md \
		$(if $(RESULTS),--full --project $(OUT)/border_regions.qgs --rasters $(OUT)/rasters)

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

# (The downloads run alone: their progress bars stay on in a parallel make.)
data: | $(SETUP)
	PIPELINE_PROGRESS=1 $(PIPE) download

# WorldPop's 1 km population counts of every country on the study grid (layers/population.yaml: worldpop),
# clipped to the study bbox into DATA_DIR/worldpop/; then `population_raster: worldpop` uses them.
data-worldpop: | $(SETUP)
	PIPELINE_PROGRESS=1 $(PIPE) download --worldpop

check-data: | $(SETUP)
	$(PIPE) check-data

test: | $(SETUP)
	$(PYTHON) -m pytest $(PYTEST_ARGS)

# The tests that need no `make all` of their own (no `slow` marker): under 90 s.
test-fast: | $(SETUP)
	$(PYTHON) -m pytest -m "not slow" $(PYTEST_ARGS)

# The border layers are read from the stage files (publish copies them into borders.gpkg): the maps are
# drawn while publish writes the report and the project.
$(MAP_FILES) &: $(STAGES)/ingest.gpkg $(STAGES)/borders.gpkg $(STAGES)/zones.gpkg $(STAGES)/border_regions.gpkg \
		$(STAGES)/crossings.gpkg $(OUT)/accessibility.gpkg $(OUT)/influence.gpkg $(OUT)/economy.gpkg \
		$(OUT)/population.gpkg \
		pipeline/maps.py $(CORE) $(CONFIG) pipeline/config/influence.py layers/influence.yaml | $(SETUP) $(CHECKED)
	$(PIPE) maps --outputs $(OUT) --out $(OUT)/maps

# Every output layer valid, with a CRS, not empty; belts overlap only near shared corners.
$(OUT)/VALIDATION.md: $(OUT)/borders.gpkg $(RESULTS) pipeline/validate.py $(CORE) | $(SETUP) $(CHECKED)
	$(PIPE) validate --outputs $(OUT) --out $@

# Benchmark (not a test): cold and no-op `make all` with each stage's time and memory, parallel
# studies, the accessibility raster against GRASS r.cost and scikit-image MCP, the network against
# networkx, growth with cells and edges. BENCH_RES: cell sizes (m) compared with the peers, e.g.
# BENCH_RES="1000 500". Builds in a temporary copy (outputs/ untouched); writes docs/benchmarks.md and
# docs/benchmarks.json (keys documented in bench/bench.py).
BENCH_RES ?= 1000 500
bench: | $(SETUP)
	$(PYTHON) -m pip install --quiet -e '.[bench]'
	$(PYTHON) bench/bench.py --res $(BENCH_RES) --data-dir '$(PIPELINE_DATA_DIR)'

# The accessibility raster at 1 km against r.cost and MCP only (a few minutes); updates its keys of
# docs/benchmarks.json.
bench-quick: | $(SETUP)
	$(PYTHON) -m pip install --quiet -e '.[bench]'
	$(PYTHON) bench/bench.py --quick --data-dir '$(PIPELINE_DATA_DIR)'

# OpenStreetMap at country scale without the internet: a synthetic extract of 1 M ways (bench/synthetic_osm.py)
# through network → crossings → link → accessibility → influence; seconds and peak memory per stage into
# docs/benchmarks.json (osm_synthetic). Takes tens of minutes and several GB of memory.
bench-osm: | $(SETUP)
	$(PYTHON) -m pip install --quiet -e '.[bench]'
	$(PYTHON) bench/osm_scale.py --data-dir '$(PIPELINE_DATA_DIR)'

# clean removes only what the pipeline writes, and only inside this checkout unless FORCE=1.
clean:
	@case "$(abspath $(OUT))/" in "$(CURDIR)"/*) ;; *) if [ "$(FORCE)" != 1 ]; then \
	  echo "error: OUT=$(OUT) is outside this checkout ($(CURDIR)); make clean FORCE=1 OUT=$(OUT) to clean it" >&2; \
	  exit 2; fi;; esac
	rm -rf $(STAGES) $(OUT)/studies $(OUT)/rasters $(OUT)/borders.gpkg $(OUT)/REPORT.md $(OUT)/accessibility.gpkg \
		$(OUT)/influence.gpkg $(OUT)/economy.gpkg $(OUT)/population.gpkg $(OUT)/people_influence.gpkg \
		$(OUT)/border_regions.qgs $(OUT)/maps \
		$(OUT)/VALIDATION.md
	rm -f $(OUT)/.[!.]*.*  # temporaries of a killed run (stages/, rasters/, maps/ go with the lines above)
