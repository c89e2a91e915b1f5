"""llama.cpp's OpenAI-compatible server with prover's engine defaults: the same arguments as
``python -m llama_cpp.server``, models loaded without llama.cpp's extra buffer types (they crash
on CPUs with AMX; see :mod:`prover.llm.llamacpp_backend`).

Example: python -m prover.llm.llama_server --model gemma.gguf --chat_format gemma --port 8080"""

from __future__ import annotations


def main() -> None:
    from llama_cpp.server.__main__ import main as serve

    from prover.llm.llamacpp_backend import disable_extra_buffer_types

    disable_extra_buffer_types()
    serve()


if __name__ == "__main__":
    main()
