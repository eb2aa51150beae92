#!/usr/bin/env bash
# The command line contract: --help, --version, exit codes, error format.
source "$(dirname "$0")/../lib.sh"
out=$T_TMP/out; err=$T_TMP/err
"$MMSAFE" --help >"$out"; check_eq "mmsafe --help exits 0" $? 0
for c in import check run reduce merge sweep-job inspect tokenize logits generate; do
  check_grep "--help lists $c" "^  $c " "$out"
  "$MMSAFE" "$c" --help >"$T_TMP/h" 2>&1; check_eq "mmsafe $c --help exits 0" $? 0
  check_grep "mmsafe $c --help prints usage" "usage: mmsafe $c" "$T_TMP/h"
done
"$MMSAFE" --version >"$out"; check_grep "--version" "^mmsafe [0-9]+\.[0-9]+\.[0-9]+" "$out"
# the engine's kernel path (cpuid, or MMSAFE_CPU): in --version; a bad MMSAFE_CPU refuses computing commands
check_grep "--version names the kernel path" "^engine kernels: (avx512(\+vnni)?(\+bf16)?|avx2|scalar) \(cpu:" "$out"
# AVX-512 (F+BW+VL; Linux lists them only where the OS saves the zmm state): there cpuid
# picks it and MMSAFE_CPU=avx512 runs it; elsewhere MMSAFE_CPU=avx512 is refused, naming what is missing
if grep -qw avx512f /proc/cpuinfo && grep -qw avx512bw /proc/cpuinfo && grep -qw avx512vl /proc/cpuinfo; then
  check_grep "an AVX-512 CPU: cpuid picks the avx512 kernels" "^engine kernels: avx512" "$out"
  MMSAFE_CPU=avx512 "$MMSAFE" --version >"$out"; check_eq "MMSAFE_CPU=avx512 on an AVX-512 CPU: --version exits 0" $? 0
  check_grep "MMSAFE_CPU=avx512 on an AVX-512 CPU: in use" "^engine kernels: avx512(\+vnni)?(\+bf16)? .*forced by MMSAFE_CPU" "$out"
else
  MMSAFE_CPU=avx512 "$MMSAFE" run jobs/demo.json 2>"$err"; check_eq "MMSAFE_CPU=avx512 without AVX-512: run exits 1" $? 1
  check_grep "MMSAFE_CPU=avx512 without AVX-512: the message names the missing features" \
    "^mmsafe: error: MMSAFE_CPU=avx512: this CPU lacks (avx512f|avx512bw|avx512vl)" "$err"
fi
MMSAFE_CPU=scalar "$MMSAFE" --version >"$out"; check_grep "MMSAFE_CPU=scalar is in --version" "^engine kernels: scalar .*forced by MMSAFE_CPU" "$out"
MMSAFE_CPU=bogus "$MMSAFE" logits --model x.gguf --prompt hi 2>"$err"; check_eq "MMSAFE_CPU=bogus: logits exits 1" $? 1
check_grep "MMSAFE_CPU=bogus: the message" "^mmsafe: error: MMSAFE_CPU=bogus: expected avx512, avx2, scalar or auto" "$err"
"$MMSAFE" frobnicate 2>"$err"; check_eq "unknown command exits 2" $? 2
check_grep "unknown command message" "mmsafe: error: unknown command 'frobnicate'" "$err"
"$MMSAFE" 2>"$err"; check_eq "no command exits 2" $? 2
"$MMSAFE" run 2>"$err"; check_eq "run without job exits 2" $? 2
check_grep "usage error format" "^mmsafe: error: no job file given" "$err"
"$MMSAFE" run jobs/demo.json --bogus 2>"$err"; check_eq "unknown option exits 2" $? 2
"$MMSAFE" reduce "$T_TMP/none.h5" 2>"$err"; check_eq "reduce of a missing file exits 1" $? 1
check_grep "reduce names the file" "mmsafe: error: .*none.h5" "$err"
echo "not hdf5" > "$T_TMP/bad.h5"
"$MMSAFE" reduce "$T_TMP/bad.h5" 2>"$err"; check_eq "reduce of a non-HDF5 file exits 1" $? 1
check_grep "reduce says what is wrong" "bad.h5.*not a readable HDF5 file" "$err"
done_t
