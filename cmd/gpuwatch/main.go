// Command gpuwatch measures the time slice a virtual GPU (SR-IOV VF,
// time-sliced vGPU) really gets, from inside the guest, through the GPU
// scheduler's tracepoints.
//
//	gpuwatch analyze [--json] [--expect SHARE] FILE|-   offline, trace-cmd report text or trace.dat
//	gpuwatch watch [--source ebpf|tracefs|auto] ...      live, TUI on a terminal, JSON otherwise
//	gpuwatch run [--expect SHARE] ... -- CMD [ARGS...]   live, while CMD runs; a summary at its exit
//	gpuwatch simulate ...                                 ground-truth traces of a time-sliced host
//
// Exit status: 0 success, 1 a verdict failed (--expect), 2 bad usage or input;
// run passes on its command's non-zero status (docs/run.md).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gpuwatch/gpuwatch/internal/report"
)

// Exit codes.
const (
	exitOK      = 0
	exitVerdict = 1
	exitUsage   = 2
)

type command struct {
	name, summary string
	run           func(args []string, stdin io.Reader, stdout, stderr io.Writer) int
}

// commands is filled in by each command's file.
var commands []command

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: gpuwatch COMMAND [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'gpuwatch COMMAND -h' for a command's flags.")
}

func main() {
	os.Exit(runWith(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is runWith on an empty standard input.
func run(args []string, stdout, stderr io.Writer) int {
	return runWith(args, strings.NewReader(""), stdout, stderr)
}

// runWith runs the command line args with the given standard streams and
// returns the exit status.
func runWith(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 && args[0] == "help" {
			// "gpuwatch help analyze" is "gpuwatch analyze -h".
			return runWith([]string{args[1], "-h"}, stdin, stdout, stderr)
		}
		usage(stdout)
		return exitOK
	case "-version", "--version":
		args = []string{"version"}
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(args[1:], stdin, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "gpuwatch: unknown command %q\n", args[0])
	usage(stderr)
	return exitUsage
}

// parseCommandFlags parses a command's flags for commands that take no
// arguments; when ok is false the command returns code (0 after -h).
func parseCommandFlags(fs *flag.FlagSet, args []string, stderr io.Writer) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		return exitUsage, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gpuwatch %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return exitUsage, false
	}
	return exitOK, true
}

// parseExpect parses the --expect flag of cmd ("" when not given: no
// expectation); on a bad value it says why and ok is false (the command
// then exits with exitUsage).
func parseExpect(cmd, expect string, stderr io.Writer) (exp *report.Expectation, ok bool) {
	if expect == "" {
		return nil, true
	}
	exp, err := report.ParseExpectation(expect)
	if err != nil {
		fmt.Fprintf(stderr, "gpuwatch %s: --expect: %v\n", cmd, err)
		return nil, false
	}
	return exp, true
}
