// Package machine describes where a measurement ran: the kernel, the CPUs
// and the git commit of the code measured. Benchmarks and the accuracy
// grid stamp their Markdown output with it, so that a figure in docs/ says
// what it rests on.
package machine
