# GPT-2 small, a checkpoint folder in models/gpt2 (`make gpt2-download` where the network allows).
MODEL_PATH := $(ROOT)/models/gpt2
MODEL_NAME := gpt2
MODEL_OPTIONS := --tokenizer $(ROOT)/assets/gpt2.tiktoken
MODEL_HINT := GPT-2's weights are not downloadable here; elsewhere run make gpt2-download
CONTEXT := 256
