# The course's commands. `make run` and `make test` create the environment when it is missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# CPU-only users may set TORCH_INDEX=https://download.pytorch.org/whl/cpu (see README).
TORCH_INDEX ?=
PIP := $(BIN)/python -m pip --disable-pip-version-check

.PHONY: help env test test-seed test-browser site lint run refresh lab exercises student course package collect grade markup data lock clean

help:
	@echo "make run      execute every notebook into build/ and print a table of results"
	@echo "make test     unit tests, lint and nbval on every notebook (what CI runs)"
	@echo "make test-seed ZSL_SEED=N  nbval on every notebook at base seed N"
	@echo "make test-browser  JupyterLab in headless Chromium opens every notebook, runs a lesson"
	@echo "make site     the course website in build/site (the committed notebooks, not re-executed)"
	@echo "make lab      JupyterLab in the course environment, opened on notebooks/"
	@echo "make exercises  your copies of the notebooks without solutions, in exercises/"
	@echo "make refresh  re-execute the notebooks in place (regenerates committed outputs)"
	@echo "make student  student versions of the notebooks in build/student (no solutions)"
	@echo "make course [ROSTER=roster.csv]  nbgrader course directory in build/course, release/ generated"
	@echo "make collect ASSIGNMENT=NN_name LMS=dir  nbgrader zip_collect of an LMS bulk download"
	@echo "make grade ASSIGNMENT=NN_name [JOBS=n]  nbgrader autograde, feedback, export (build/course/grades.csv)"
	@echo "make package  build/zsl-course-student.zip: student notebooks, zsl_utils and data, no clone needed"
	@echo "make markup   renormalise the notebooks' nbgrader metadata (ids, points)"
	@echo "make data     rebuild data/ from its published sources (needs PyPI access, Korean fonts)"
	@echo "make lock     re-solve the dependencies and rewrite constraints.txt"

env: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; v = sys.version_info; sys.exit(f"Python 3.11 or newer is needed, $(PYTHON) is {v.major}.{v.minor}") if v < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(if $(TORCH_INDEX),$(PIP) install -c constraints.txt --index-url $(TORCH_INDEX) torch torchvision)
	$(PIP) install -c constraints.txt -e '.[dev]'
	touch $(STAMP)

test: env lint
	$(BIN)/python -m pytest tests notebooks --ignore=tests/browser --nbval-lax --nbval-current-env --durations=15

test-seed: env
	@case "$(ZSL_SEED)" in ''|*[!0-9]*) echo "usage: make test-seed ZSL_SEED=N (a non-negative integer)"; exit 2;; esac
	ZSL_SEED=$(ZSL_SEED) $(BIN)/python -m pytest notebooks --nbval-lax --nbval-current-env --durations=10

# Needs Debian's chromium (apt-get install chromium); .ci/run installs it.
test-browser: env site
	$(BIN)/python -m pytest tests/browser -v

site: env
	$(BIN)/python scripts/build_site.py --out build/site

lint: env
	$(BIN)/ruff check zsl_utils tests scripts notebooks

run: env
	$(BIN)/python scripts/run_notebooks.py --out build/notebooks

refresh: env
	$(BIN)/python scripts/run_notebooks.py --in-place

lab: env
	$(BIN)/jupyter lab --ServerApp.root_dir="$(CURDIR)" --LabApp.default_url=/lab/tree/notebooks

exercises: env
	$(BIN)/python scripts/classroom.py student --out exercises --keep-existing

student: env
	$(BIN)/python scripts/classroom.py student --out build/student

COURSE ?= build/course
JOBS ?= 2

course: env
	$(BIN)/python scripts/classroom.py course --out $(COURSE) $(if $(ROSTER),--roster "$(ROSTER)")

collect: env
	@test -n "$(ASSIGNMENT)" -a -n "$(LMS)" || { echo "usage: make collect ASSIGNMENT=NN_name LMS=folder-of-downloads"; exit 2; }
	$(BIN)/python scripts/classroom.py collect "$(ASSIGNMENT)" "$(LMS)" --course $(COURSE)

grade: env
	@test -n "$(ASSIGNMENT)" || { echo "usage: make grade ASSIGNMENT=NN_name [JOBS=n] (after make collect)"; exit 2; }
	$(BIN)/python scripts/classroom.py grade "$(ASSIGNMENT)" --course $(COURSE) --jobs $(JOBS)

package: env
	$(BIN)/python scripts/classroom.py package --out build/zsl-course-student.zip

markup: env
	$(BIN)/python scripts/nbgrader_markup.py notebooks/[0-9][0-9]_*.ipynb

data: env
	$(BIN)/python scripts/build_animals.py
	$(BIN)/python scripts/build_hangul.py

lock:
	rm -rf build/lock-venv
	$(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/python -m pip --disable-pip-version-check install -e '.[dev]'
	{ echo "# Versions tested with; regenerate with make lock."; \
	  build/lock-venv/bin/python -m pip freeze --exclude-editable; } > constraints.txt
	rm -rf build/lock-venv

clean:
	rm -rf build $(VENV)
