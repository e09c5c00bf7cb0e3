// Package bpf holds gpuwatch's eBPF programs (gpuwatch.c) and their
// bpf2go output. The generated files are committed, so building needs no
// clang; .ci/check-bpf checks they are current.
package bpf

//go:generate go tool bpf2go -cc clang-14 -strip llvm-strip-14 -target bpfel -type rec -type evcfg -type ringstate -type field Gpuwatch gpuwatch.c -- -O2 -g -Wall -I/usr/include/x86_64-linux-gnu
