# mmsafe - plain make.  `make deps` (root, Debian 12) installs the system
# packages; `make` builds ./mmsafe; `make test` runs the whole suite;
# `make bench` prints speed figures; `make asan test` runs the suite under
# ASan/UBSan.  Clusters where `module load` replaces pkg-config can override
# MPICC, HDF5_CFLAGS/HDF5_LIBS, CJSON_*, JPEG_*, PNG_*, WEBP_*, BLAS_*.

CC      ?= cc
MPICC   ?= mpicc
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
WARN     = -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes -Wno-unused-parameter
DEFS     = -D_GNU_SOURCE
DEPFLAGS = -MMD -MP
SAN     ?=
# ARCH: empty by default, so the binary runs on any x86-64 (kernels are picked
# at run time by cpuid, src/engine/cpu.h); ARCH=-march=native is the opt-in
# that also lets the compiler use the build machine's instructions everywhere.
ARCH    ?=
PKG     ?= pkg-config
PYTHON  ?= $(shell for p in /usr/bin/python3 python3; do $$p -c 'import h5py, numpy' 2>/dev/null && echo $$p && break; done)

HDF5_CFLAGS  ?= $(shell $(PKG) --cflags hdf5-openmpi 2>/dev/null)
HDF5_LIBS    ?= $(shell $(PKG) --libs hdf5-openmpi 2>/dev/null)
CJSON_CFLAGS ?= $(shell $(PKG) --cflags libcjson 2>/dev/null)
CJSON_LIBS   ?= $(shell $(PKG) --libs libcjson 2>/dev/null)
JPEG_CFLAGS  ?= $(shell $(PKG) --cflags libturbojpeg 2>/dev/null)
JPEG_LIBS    ?= $(shell $(PKG) --libs libturbojpeg 2>/dev/null)
PNG_CFLAGS   ?= $(shell $(PKG) --cflags libpng 2>/dev/null)
PNG_LIBS     ?= $(shell $(PKG) --libs libpng 2>/dev/null)
WEBP_CFLAGS  ?= $(shell $(PKG) --cflags libwebp 2>/dev/null)
WEBP_LIBS    ?= $(shell $(PKG) --libs libwebp 2>/dev/null)
BLAS_CFLAGS  ?= $(shell $(PKG) --cflags openblas 2>/dev/null)
BLAS_LIBS    ?= $(shell $(PKG) --libs openblas 2>/dev/null)

LIB_CFLAGS = $(HDF5_CFLAGS) $(CJSON_CFLAGS) $(JPEG_CFLAGS) $(PNG_CFLAGS) $(WEBP_CFLAGS)
LIB_LIBS   = $(HDF5_LIBS) $(CJSON_LIBS) $(JPEG_LIBS) $(PNG_LIBS) $(WEBP_LIBS)

B = build
# The engine: plain C11 + libm + OpenMP, compiled with $(CC) and no MPI/HDF5/
# cJSON/image include paths, so a stray #include of them fails to build.
ENGINE_SRC = $(wildcard src/engine/*.c)
ENGINE_OBJ = $(ENGINE_SRC:src/%.c=$(B)/%.o)
# Kernel sets compiled with their own instruction flags whatever ARCH says
# (src/engine/cpu.h: only run after cpuid found the instructions).
# AVX-512: F+BW+VL for the whole file; its VNNI and BF16 kernels carry target
# attributes instead, so no other code there can pick up those instructions.
KERN_AVX2 = -mavx2 -mfma -mf16c
KERN_AVX512 = -mavx512f -mavx512bw -mavx512vl $(KERN_AVX2)
ifneq ($(filter x86_64 amd64,$(shell uname -m)),)
%/engine/quant_simd.o: KFLAGS = $(KERN_AVX2)
%/engine/quant_avx512.o: KFLAGS = $(KERN_AVX512)
# test_kernels also checks the AVX-512 set on CPUs without it: quant_avx512.c
# compiled again with SIMDe (libsimde-dev) standing in for the AVX-512
# intrinsics on top of AVX2 (an empty set where SIMDe is not installed).
EMU_KFLAGS = $(KERN_AVX2) -Wno-psabi
endif
EMU_OBJ = $(B)/emu/quant_avx512_emu.o
# The program, one folder per part (README "Layout"): cli/ the commands, run/ the
# distributed run (queue, journal, store), backends/, benchmarks/, image/ I/O,
# common/ (errors, utilities, the job/manifest JSON), engine/ (built apart, below).
# Headers are included by name: every folder but engine/ is on the quote path.
APP_DIRS = cli run backends benchmarks image common
APP_SRC = $(filter-out src/main.c,$(wildcard src/*.c $(APP_DIRS:%=src/%/*.c)))
APP_OBJ = $(APP_SRC:src/%.c=$(B)/%.o)
APP_INC = $(APP_DIRS:%=-iquote src/%) -iquote src
ALL_OBJ = $(ENGINE_OBJ) $(APP_OBJ) $(B)/main.o

UNIT_SRC   = $(wildcard tests/unit/test_*.c)
UNIT_BIN   = $(UNIT_SRC:tests/unit/%.c=$(B)/tests/unit/%)
ENGT_SRC   = $(wildcard tests/engine/test_*.c)
ENGT_BIN   = $(ENGT_SRC:tests/engine/%.c=$(B)/tests/engine/%)
TOOL_SRC   = $(wildcard tools/*.c)
TOOL_BIN   = $(TOOL_SRC:tools/%.c=$(B)/tools/%)

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GITREV  := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

# `make asan test`: everything rebuilt with ASan/UBSan into build-asan/
# (the binary too: build-asan/mmsafe), so ./mmsafe is never replaced by it.
BIN = mmsafe
ifneq ($(filter asan,$(MAKECMDGOALS)),)
B = build-asan
BIN = build-asan/mmsafe
SAN = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT = -O1
endif

.PHONY: all deps test test-programs bench asan clean check-layering fuzz mutants
all: $(BIN) $(TOOL_BIN)

$(BIN): $(ALL_OBJ) $(B)/libengine.a
	$(MPICC) $(SAN) -fopenmp -o $@ $(B)/main.o $(APP_OBJ) $(B)/libengine.a $(LIB_LIBS) $(BLAS_LIBS) -lm -lpthread

$(B)/libengine.a: $(ENGINE_OBJ)
	@mkdir -p $(dir $@)
	ar rcs $@ $^

$(B)/engine/%.o: src/engine/%.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(DEFS) $(CFLAGS) $(ARCH) $(KFLAGS) $(SAN) -fopenmp $(BLAS_CFLAGS) $(DEPFLAGS) -iquote src -iquote src/common -c -o $@ $<

$(B)/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(MPICC) $(WARN) $(DEFS) $(CFLAGS) $(SAN) -fopenmp $(LIB_CFLAGS) -DMMSAFE_VERSION='"$(VERSION)"' -DMMSAFE_GITREV='"$(GITREV)"' $(DEPFLAGS) $(APP_INC) -c -o $@ $<

$(B)/tests/unit/%: tests/unit/%.c $(APP_OBJ) $(B)/libengine.a tests/t.h
	@mkdir -p $(dir $@)
	$(MPICC) $(WARN) $(DEFS) $(CFLAGS) $(SAN) -fopenmp $(LIB_CFLAGS) $(APP_INC) -iquote tests -o $@ $< $(APP_OBJ) $(B)/libengine.a $(LIB_LIBS) $(BLAS_LIBS) -lm -lpthread

# Engine tests link only the engine: they prove it builds and runs without MPI.
$(B)/tests/engine/%: tests/engine/%.c $(B)/libengine.a tests/t.h
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(DEFS) $(CFLAGS) $(ARCH) $(SAN) -fopenmp -iquote src -iquote src/common -iquote tests -o $@ $< $(filter %.o,$^) $(B)/libengine.a $(BLAS_LIBS) -lm
$(B)/tests/engine/test_kernels: $(EMU_OBJ)

$(EMU_OBJ): src/engine/quant_avx512.c
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(DEFS) $(CFLAGS) $(ARCH) $(EMU_KFLAGS) -DMMSAFE_EMULATE_AVX512 $(SAN) $(DEPFLAGS) -iquote src -iquote src/common -c -o $@ $<

$(B)/tools/%: tools/%.c $(B)/libengine.a
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(DEFS) $(CFLAGS) $(ARCH) $(SAN) -fopenmp -iquote src -iquote src/common -o $@ $< $(B)/libengine.a $(BLAS_LIBS) -lm

# Every system package, from Debian (run as root on Debian 12).
DEB_PKGS = build-essential pkg-config libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools \
  libcjson-dev libturbojpeg0-dev libpng-dev libwebp-dev libopenblas-dev \
  libsimde-dev python3 python3-h5py python3-numpy python3-matplotlib python3-pil \
  slurmd slurmctld slurm-client munge procps util-linux bc unicode-data
deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $(DEB_PKGS)

test-programs: all $(UNIT_BIN) $(ENGT_BIN)

test: test-programs
	@BUILD=$(B) MMSAFE=$(abspath $(BIN)) PYTHON=$(PYTHON) tests/run.sh $(TEST_GROUPS)

# `make mutants`: every deliberate bug in tests/mutants/*.txt, one at a time,
# must make the tests that guard it fail (slow: one rebuild per mutant).
mutants: all
	@bash tests/mutants/run.sh $(MUTANTS)

bench: all
	@PYTHON=$(PYTHON) bash bench/run.sh $(BENCH)

asan:
	@true

check-layering:
	@! grep -rnE '#include *<(mpi|hdf5|cjson/cJSON|turbojpeg|png|webp/[a-z]+)\.h>' src/engine || \
	  { echo "engine must not include MPI/HDF5/cJSON/image headers"; exit 1; }
	@echo "layering ok"

clean:
	rm -rf build build-asan mmsafe

-include $(ALL_OBJ:.o=.d) $(EMU_OBJ:.o=.d)

# `make fuzz`: libFuzzer harnesses for the GGUF reader, model and vocabulary
# loaders (llama/qwen2/qwen3, SPM and byte-level BPE) and the tokenizers with
# the real SPM, Llama-3 and Qwen2 vocabularies of ../shared, under ASan/UBSan
# (clang).  Run from the repository root, e.g.:
#   build/fuzz/fuzz_gguf tests/fuzz/corpus/gguf -max_total_time=600
#   build/fuzz/fuzz_tokenize tests/fuzz/corpus/tokenize -max_total_time=600
# The fixed crashers live in tests/fuzz/corpus/ and are replayed by `make test`
# (tests/engine/test_fuzz_corpus.c), which needs no clang.
FUZZ_CC ?= clang
# One compiler command for every engine file, so no per-file instruction flags:
# the harnesses run the scalar kernels (ENGINE_NO_AVX2 leaves out the AVX2 and
# AVX-512 sets, which need their own -m flags; the loaders are what is fuzzed).
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fopenmp -DENGINE_NO_AVX2
fuzz: build/fuzz/fuzz_gguf build/fuzz/fuzz_tokenize
build/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz_common.h $(ENGINE_SRC) $(wildcard src/engine/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 $(DEFS) $(FUZZ_FLAGS) $(ARCH) -DENGINE_NO_BLAS -Isrc -Isrc/common -o $@ $< $(ENGINE_SRC) -lm
