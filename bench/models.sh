# bench/models.sh - sourced by the benches: the real-shape random-weight models
# they share, written by the project's own tools/gguf_write into build/bench/
# (never committed; regenerated when tools/gguf_write.c is newer; written under
# a temporary name and renamed, so a process that has the old file mapped keeps it).
#   bench_model SHAPE TYPE   prints the file's path (generating it first if needed)
#   SHAPE: llama-1.1b  LLaMA 1.1B (TinyLlama): n_embd 2048, 22 layers, 32 heads, 4 KV heads,
#                      n_ff 5632, the LLaMA-2 SentencePiece vocabulary (32000)
#          qwen2-1.5b  Qwen2.5-1.5B: n_embd 1536, 28 layers, 12 heads, 2 KV heads, n_ff 8960,
#                      Q/K/V biases, tied embeddings, the Qwen2 vocabulary (151936)
#   TYPE: any gguf_write --type (F16, Q8_0, Q4_K_M, ...)
bench_model() {
  local shape=$1 type=$2 B=${BUILD:-build} V=../shared/fixtures/vocab f args=()
  case $shape in
    llama-1.1b) f=$B/bench/engine/tl-$type.gguf
      args=(--embd 2048 --layers 22 --heads 32 --kv-heads 4 --ff 5632 --ctx 2048)
      if [ -f $V/ggml-vocab-llama-spm.gguf ]; then args+=(--vocab-from $V/ggml-vocab-llama-spm.gguf); else args+=(--vocab 32000); fi ;;
    qwen2-1.5b) f=$B/bench/qwen2/q15-$type.gguf
      args=(--arch qwen2 --embd 1536 --layers 28 --heads 12 --kv-heads 2 --ff 8960 --ctx 4096 --tied --rope-base 1000000)
      if [ -f $V/ggml-vocab-qwen2.gguf ]; then args+=(--vocab-from $V/ggml-vocab-qwen2.gguf); else args+=(--vocab 151936); fi ;;
    *) echo "bench_model: unknown shape $shape" >&2; return 1 ;;
  esac
  mkdir -p "$(dirname "$f")"
  if [ ! -s "$f" ] || [ tools/gguf_write.c -nt "$f" ]; then
    echo "generating $f ($shape shape, $type, random weights)" >&2
    "$B/tools/gguf_write" "$f.tmp.$$" --type "$type" "${args[@]}" >&2 && mv -f "$f.tmp.$$" "$f" || { rm -f "$f.tmp.$$"; return 1; }
  fi
  echo "$f"
}
