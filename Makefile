# kube-proxy-bpf. The two commands a new user runs are `make demo` and `make test`;
# both install what they need first (idempotently, via stamp files under .toolchain/).
SHELL := /bin/bash
.DEFAULT_GOAL := build
ROOT := $(CURDIR)
TOOLCHAIN := $(ROOT)/.toolchain
BUILD := $(ROOT)/build
CACHE := $(ROOT)/.cache

# Node: the system node is used when it is >= 22, else npm's `node` package (24) in .toolchain.
SYSTEM_NODE_MAJOR := $(shell node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
ifeq ($(shell test $(SYSTEM_NODE_MAJOR) -ge 22 && echo yes),yes)
NODE_BIN_DIR := $(dir $(shell command -v node))
else
NODE_BIN_DIR := $(TOOLCHAIN)/node/node_modules/node/bin/
endif
export PATH := $(NODE_BIN_DIR):$(ROOT)/node_modules/.bin:$(PATH)
NODE := $(NODE_BIN_DIR)node

APT_PACKAGES := clang llvm libbpf-dev libelf-dev zlib1g-dev bpftool iproute2 iptables nftables \
	conntrack curl iperf3 sockperf netsniff-ng openssl ca-certificates ethtool \
	python3 util-linux binutils podman runc mmdebstrap prometheus fonts-dejavu-core tcpdump
CLANG ?= clang
BPF_CFLAGS := -O2 -g -Wall -Werror -fno-strict-aliasing -target bpf -D__TARGET_ARCH_x86 -I$(ROOT)/datapath/include -I$(BUILD)/include
BPF_SOURCES := $(wildcard datapath/bpf/*.bpf.c) $(wildcard datapath/bpf-loader-napi/test/*.bpf.c) $(wildcard src/dataplane/testdata/*.bpf.c)
BPF_OBJECTS := $(patsubst %.bpf.c,$(BUILD)/bpf/%.bpf.o,$(notdir $(BPF_SOURCES)))
ADDON := datapath/bpf-loader-napi/build/bpf_loader.node
ADDON_SOURCES := $(wildcard datapath/bpf-loader-napi/src/*.c datapath/bpf-loader-napi/src/*.h)

# Test layers; e2e runs one file at a time because files share the fabric addresses.
UNIT_TESTS = $(shell find src datapath scripts -name '*.test.ts' -not -path '*/node_modules/*' | sort)
E2E_TESTS = $(shell find e2e -name '*.test.ts' -not -path '*/node_modules/*' | sort)
TEST_FLAGS := --test-reporter=spec --test-timeout=600000

.PHONY: setup apt node deps bpffs build bpf addon proto typecheck test test-unit test-e2e demo bench binary image k8s clean distclean

setup: apt node deps bpffs

apt: $(TOOLCHAIN)/apt.stamp
$(TOOLCHAIN)/apt.stamp: Makefile
	@mkdir -p $(TOOLCHAIN)
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo ">> apt-get install$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq $$missing; \
	fi
	@touch $@

node: $(TOOLCHAIN)/node.stamp
$(TOOLCHAIN)/node.stamp:
	@mkdir -p $(TOOLCHAIN)/node
	@if [ "$(SYSTEM_NODE_MAJOR)" -lt 22 ]; then \
	  echo ">> system node is $(SYSTEM_NODE_MAJOR).x (< 22): installing Node 24 from npm's node package"; \
	  npm install --silent --no-save --no-package-lock --prefix $(TOOLCHAIN)/node node@24.21.0; \
	fi
	@$(NODE) -v >/dev/null
	@touch $@

deps: node_modules/.package-lock.json
node_modules/.package-lock.json: package.json package-lock.json datapath/bpf-loader-napi/package.json | node
	npm ci --no-audit --no-fund
	@touch $@

bpffs:
	@mountpoint -q /sys/fs/bpf || { echo ">> mounting bpffs at /sys/fs/bpf"; mkdir -p /sys/fs/bpf && mount -t bpf bpf /sys/fs/bpf; }

build: setup bpf addon proto

# The Kubernetes protobuf schema the agent decodes API responses with: field numbers and types of
# the messages it reads, taken from the generated.proto files of k8s.io/api and k8s.io/apimachinery
# at the versions e2e/k8s/go.mod pins, fetched through the Go module proxy (`go mod download`).
# Nothing of them is committed; rebuilt only when the generator, the field list or go.mod change.
PROTO_SCHEMA := $(BUILD)/proto/k8s-schema.ts
proto: $(PROTO_SCHEMA)
$(PROTO_SCHEMA): scripts/gen-k8s-proto.ts src/kube/protobuf-fields.ts e2e/k8s/go.mod | deps
	$(NODE) scripts/gen-k8s-proto.ts $@ $(BUILD)/proto/k8s-full.json

bpf: $(BPF_OBJECTS)
$(BUILD)/include/vmlinux.h: | apt
	@mkdir -p $(dir $@)
	bpftool btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@
# The datapath objects also report each entry point's stack use (clang's -fstack-usage frames
# along the object's call graph) and fail above 400 of the verifier's 512 bytes, so the headroom
# never silently runs out (scripts/bpf-stack.ts).
BPF_STACK_LIMIT := 400
$(BUILD)/bpf/%.bpf.o: datapath/bpf/%.bpf.c $(wildcard datapath/include/*.h) $(BUILD)/include/vmlinux.h scripts/bpf-stack.ts | apt node
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -fstack-usage -c $< -o $@
	@$(NODE) scripts/bpf-stack.ts --limit $(BPF_STACK_LIMIT) $@ || { rm -f $@; exit 1; }
$(BUILD)/bpf/%.bpf.o: datapath/bpf-loader-napi/test/%.bpf.c $(wildcard datapath/include/*.h) $(BUILD)/include/vmlinux.h | apt
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@
$(BUILD)/bpf/%.bpf.o: src/dataplane/testdata/%.bpf.c $(BUILD)/include/vmlinux.h | apt
	@mkdir -p $(dir $@)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# The addon is a plain shared object built against node-api-headers (no node-gyp download).
addon: $(ADDON)
$(ADDON): $(ADDON_SOURCES) | deps apt
	@mkdir -p $(dir $@)
	$(CC) -shared -fPIC -O2 -g -Wall -Werror -Wno-format-truncation -fvisibility=hidden -D_GNU_SOURCE -DNAPI_VERSION=8 \
	  -I$(ROOT)/node_modules/node-api-headers/include \
	  $(filter %.c,$(ADDON_SOURCES)) -o $@ -Wl,--no-undefined -Wl,--unresolved-symbols=ignore-in-object-files \
	  -lbpf -lelf -lz -lpthread

typecheck: deps proto
	tsc -p tsconfig.json

test: build typecheck test-unit test-e2e
test-unit: build
	$(NODE) --test $(TEST_FLAGS) --test-concurrency=2 $(UNIT_TESTS)
test-e2e: build binary k8s image
	$(NODE) --test $(TEST_FLAGS) --test-concurrency=1 $(E2E_TESTS)

# Real kube-apiserver, etcd and upstream kube-proxy, built from the Go module proxy (architecture §6).
# Each binary is rebuilt only when its module's go.mod/go.sum change; a failed build leaves no binary.
K8S_BIN := $(CACHE)/k8s/bin
K8S_GOBUILD := go build -trimpath
# A module build has no git tree to stamp the version from; stamp it so /version and --version
# report the release instead of v0.0.0-master.
K8S_VERSION := $(shell awk '/^require k8s.io\/kubernetes /{print $$3}' e2e/k8s/go.mod)
K8S_VERSION_PKG := k8s.io/component-base/version
K8S_LDFLAGS := -s -w -X $(K8S_VERSION_PKG).gitVersion=$(K8S_VERSION) -X $(K8S_VERSION_PKG).gitTreeState=clean \
	-X $(K8S_VERSION_PKG).gitMajor=$(word 1,$(subst ., ,$(K8S_VERSION:v%=%))) -X $(K8S_VERSION_PKG).gitMinor=$(word 2,$(subst ., ,$(K8S_VERSION:v%=%)))
k8s: $(K8S_BIN)/kube-apiserver $(K8S_BIN)/etcd $(K8S_BIN)/kube-proxy
$(K8S_BIN)/kube-apiserver $(K8S_BIN)/kube-proxy: $(K8S_BIN)/%: e2e/k8s/go.mod e2e/k8s/go.sum
	@mkdir -p $(K8S_BIN)
	@echo ">> building $* $(K8S_VERSION) from the Go module proxy (first time: several minutes)"
	cd e2e/k8s && $(K8S_GOBUILD) -ldflags='$(K8S_LDFLAGS)' -o $@.tmp k8s.io/kubernetes/cmd/$* && mv -f $@.tmp $@
$(K8S_BIN)/etcd: e2e/etcd/go.mod e2e/etcd/go.sum
	@mkdir -p $(K8S_BIN)
	@echo ">> building etcd from the Go module proxy"
	cd e2e/etcd && $(K8S_GOBUILD) -ldflags='-s -w' -o $@.tmp go.etcd.io/etcd/server/v3 && mv -f $@.tmp $@

demo: build binary k8s
	$(NODE) e2e/demo.ts

bench: build binary k8s $(K8S_BIN)/kube-proxy
	$(NODE) e2e/bench/run.ts

# One executable, build/kube-proxy (a Node single executable application): the bundled agent, its BPF
# objects and the addon, in a copy of $(NODE). Needs Node 24 and strip; rebuilt every time (a few seconds).
binary: build
	$(NODE) scripts/build-binary.ts

# The image: docker where an engine runs, else podman from Debian's archive only (scripts/build-image.sh).
image: binary
	scripts/build-image.sh

clean:
	rm -rf $(BUILD) datapath/bpf-loader-napi/build

distclean: clean
	rm -rf $(TOOLCHAIN) node_modules $(CACHE)
