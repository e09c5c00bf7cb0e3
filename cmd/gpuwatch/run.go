package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/gpuwatch/gpuwatch/internal/event"
	"github.com/gpuwatch/gpuwatch/internal/live"
	"github.com/gpuwatch/gpuwatch/internal/proctree"
	"github.com/gpuwatch/gpuwatch/internal/report"
)

func init() {
	commands = append(commands, command{"run", "run a command and summarise the GPU time it got, as perf stat does", runRun})
}

// Exit statuses of run beyond the common ones, as a shell gives them.
const (
	exitCannotExec = 126 // the command exists but cannot be run
	exitNotFound   = 127 // no such command
)

// runOptions are run's flags; the source flags are watch's.
type runOptions struct {
	watchOptions
	jsonFile string
	tui      bool
}

const runUsage = `usage: gpuwatch run [flags] -- CMD [ARGS...]

Watches the GPU scheduler live (root) while CMD runs, and prints on stderr
at its exit what GPU time CMD and its children got. Under sudo, CMD runs as
the invoking user. Exit status: CMD's when non-zero (128+N for signal N),
else 1 when the --expect verdict fails or is undetermined, else 0.

flags:
`

func runFlags(stderr io.Writer) (*flag.FlagSet, *runOptions) {
	o := &runOptions{watchOptions: watchOptions{interval: time.Second}}
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addSourceFlags(fs, &o.watchOptions)
	fs.StringVar(&o.jsonFile, "json", "", "write the final JSON object (watch --json's, with the command and its exit status) to `FILE`")
	fs.BoolVar(&o.tui, "tui", false, "show the live view while the command runs (its output then goes to a file named in the view)")
	fs.Usage = func() {
		fmt.Fprint(stderr, runUsage)
		fs.PrintDefaults()
	}
	return fs, o
}

func runRun(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs, o := runFlags(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	argv := fs.Args()
	if len(argv) == 0 {
		fmt.Fprintln(stderr, "gpuwatch run: no command given: gpuwatch run [flags] -- CMD [ARGS...]")
		return exitUsage
	}
	if err := o.validateSource(); err != nil {
		fmt.Fprintln(stderr, "gpuwatch run:", err)
		return exitUsage
	}
	exp, ok := parseExpect("run", o.expect, stderr)
	if !ok {
		return exitUsage
	}
	if o.tui && !isTerminal(stdout) {
		fmt.Fprintln(stderr, "gpuwatch run: --tui needs a terminal on stdout")
		return exitUsage
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		fmt.Fprintf(stderr, "gpuwatch run: %v\n", err)
		return exitNotFound
	}
	cred, err := invokerCredential()
	if err != nil {
		fmt.Fprintf(stderr, "gpuwatch run: %v\n", err)
		return exitUsage
	}

	// Signals are caught before tracefs is touched (so that its cleanup
	// runs); once the command runs they are forwarded to it.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)

	var credit proctree.Credit
	ses, code := openSession(context.Background(), "run", &o.watchOptions, exp, sessionOptions{Wrap: credit.Source}, stderr)
	if ses == nil {
		return code
	}
	select {
	case sig := <-sigs:
		// Interrupted while attaching: the command never starts.
		ses.abort()
		return 128 + int(sig.(syscall.Signal))
	default:
	}

	c := exec.Command(path, argv[1:]...)
	c.Args[0] = argv[0]
	c.Stdin, c.Stdout, c.Stderr = stdin, stdout, stderr
	var outName string
	if o.tui {
		// The view has the terminal: the command's output goes to a file,
		// its input is empty.
		out, err := os.CreateTemp("", "gpuwatch-run-*.log")
		if err != nil {
			ses.abort()
			fmt.Fprintf(stderr, "gpuwatch run: creating the command's output file: %v\n", err)
			return exitUsage
		}
		defer out.Close()
		outName = out.Name()
		chownToInvoker(outName, cred)
		c.Stdin, c.Stdout, c.Stderr = nil, out, out
	}
	// The command gets a process group of its own, so that a signal
	// forwarded to it reaches its children too; on a terminal the group
	// takes the foreground (Ctrl-C then reaches the command alone, once).
	attr := &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	tty := -1
	if !o.tui {
		tty = foregroundTTY(stdin)
	}
	if tty >= 0 {
		attr.Foreground, attr.Ctty = true, tty
	}
	c.SysProcAttr = attr
	// A descendant left holding the command's output pipe (tests pass
	// buffers, not files) does not hold the run up.
	c.WaitDelay = time.Second
	// Orphans of the command's tree are adopted by gpuwatch, not init, so
	// that their parent chain still leads to the command.
	unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)

	started := time.Now()
	if err := c.Start(); err != nil {
		ses.abort()
		fmt.Fprintf(stderr, "gpuwatch run: %v\n", err)
		if errors.Is(err, os.ErrNotExist) {
			return exitNotFound
		}
		return exitCannotExec
	}
	pid := c.Process.Pid
	comm := commOf(pid, argv[0])
	tree := proctree.New("", pid, os.Getpid())
	credit.To(tree, int32(pid), comm)
	followCtx, stopFollow := context.WithCancel(context.Background())
	go tree.Follow(followCtx, 50*time.Millisecond)

	waited := make(chan error, 1)
	go func() { waited <- c.Wait() }()
	if tty >= 0 {
		go followStops(pid, tty)
	}
	// viewDone delivers the view's error; nil without a view or once the
	// view has ended (a nil channel is never ready in the select below).
	var viewDone chan error
	if o.tui {
		viewDone = make(chan error, 1)
		note := fmt.Sprintf("%s (pid %d) · output → %s", comm, pid, outName)
		go func() { viewDone <- ses.run(stdout, true, tuiOptions{Note: note}) }()
	}
	var viewErr error
wait:
	for {
		select {
		case sig := <-sigs:
			syscall.Kill(-pid, sig.(syscall.Signal))
		case err := <-viewDone:
			// The view was quit: the command is interrupted.
			viewErr, viewDone = err, nil
			syscall.Kill(-pid, syscall.SIGINT)
		case err := <-waited:
			if c.ProcessState == nil {
				// Not a status: the wait itself failed.
				fmt.Fprintf(stderr, "gpuwatch run: waiting for %s: %v\n", comm, err)
			}
			break wait
		}
	}
	wall := time.Since(started)
	exited := monoNow()
	stopFollow()
	if tty >= 0 {
		takeForeground(tty)
	}
	// The events the command fired before it exited may still be on their
	// way: read up to its exit (the source's clock), then stop.
	drainTo(ses.src, exited, 2*time.Second)
	ses.cancel()
	if viewDone != nil {
		viewErr = <-viewDone
	}
	snap, st, code := ses.finish()

	r := &report.Run{Command: argv, PID: int32(pid), Comm: comm, Wall: wall}
	if ps := c.ProcessState; ps == nil {
		r.ExitStatus = exitUsage
	} else if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		r.ExitStatus, r.Signal = 128+int(ws.Signal()), unix.SignalName(ws.Signal())
	} else {
		r.ExitStatus = ps.ExitCode()
	}
	a := report.Build(snap, report.InputStats{Format: st.Source, Events: st.Events, Lost: st.Lost}, exp)
	if o.tui {
		fmt.Fprintf(stderr, "gpuwatch run: the output of %s is in %s\n", comm, outName)
	}
	report.WriteRun(stderr, a, r)
	if o.jsonFile != "" {
		obj := r.JSON(report.Watch(snap, st, exp, true, time.Now()), snap)
		err := writeFileWith(o.jsonFile, func(w io.Writer) error { return newWatchEncoder(w).Encode(obj) })
		if err != nil {
			fmt.Fprintf(stderr, "gpuwatch run: --json: %v\n", err)
			code = exitUsage
		}
		chownToInvoker(o.jsonFile, cred)
	}
	if o.record != "" {
		chownToInvoker(o.record, cred)
	}
	code = ses.errors(code, viewErr)
	switch {
	case r.ExitStatus != 0:
		return r.ExitStatus
	case code != exitOK:
		return code
	case a.Failed():
		return exitVerdict
	}
	return exitOK
}

// invokerCredential is the user sudo was invoked by, when gpuwatch runs as
// root under sudo (SUDO_UID, SUDO_GID): the command runs as that user,
// with the user's supplementary groups. nil otherwise: the command runs as
// gpuwatch does.
func invokerCredential() (*syscall.Credential, error) {
	su, sg := os.Getenv("SUDO_UID"), os.Getenv("SUDO_GID")
	if os.Geteuid() != 0 || su == "" {
		return nil, nil
	}
	uid, err := strconv.ParseUint(su, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("SUDO_UID=%q: not a user id", su)
	}
	gid, err := strconv.ParseUint(sg, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("SUDO_GID=%q: not a group id", sg)
	}
	if uid == 0 {
		return nil, nil
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{uint32(gid)}}
	if u, err := user.LookupId(su); err == nil {
		if ids, err := u.GroupIds(); err == nil {
			cred.Groups = cred.Groups[:0]
			for _, id := range ids {
				if g, err := strconv.ParseUint(id, 10, 32); err == nil {
					cred.Groups = append(cred.Groups, uint32(g))
				}
			}
		}
	}
	return cred, nil
}

// chownToInvoker gives a file gpuwatch wrote to the user sudo was invoked
// by (no-op without sudo).
func chownToInvoker(path string, cred *syscall.Credential) {
	if cred != nil {
		os.Chown(path, int(cred.Uid), int(cred.Gid))
	}
}

// foregroundTTY is stdin's descriptor when it is a terminal whose
// foreground process group is gpuwatch's, else -1.
func foregroundTTY(stdin io.Reader) int {
	f, ok := stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return -1
	}
	fd := int(f.Fd())
	pgrp, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP)
	if err != nil || pgrp != unix.Getpgrp() {
		return -1
	}
	return fd
}

// takeForeground makes gpuwatch's process group the terminal's foreground
// again (as a shell does when a job ends).
func takeForeground(tty int) {
	// From the background, TIOCSPGRP raises SIGTTOU: ignore it meanwhile.
	signal.Ignore(syscall.SIGTTOU)
	defer signal.Reset(syscall.SIGTTOU)
	unix.IoctlSetPointerInt(tty, unix.TIOCSPGRP, unix.Getpgrp())
}

// cldStopped is si_code CLD_STOPPED (include/uapi/asm-generic/siginfo.h).
const cldStopped = 5

// followStops keeps job control working while the command has the
// terminal: Ctrl-Z stops the command's process group alone, so gpuwatch
// then takes the terminal back and stops itself, which the shell sees as
// its job stopping. When continued in the foreground (fg) it hands the
// terminal to the command again and continues it; in the background (bg)
// it continues the command only. It returns when the command exits.
func followStops(pid, tty int) {
	for {
		var info unix.Siginfo
		// WNOWAIT: the exit stays for c.Wait to collect.
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WSTOPPED|unix.WNOWAIT, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil || info.Code != cldStopped {
			return
		}
		// Take the stop (only the stop: an exit is never collected here).
		unix.Waitid(unix.P_PID, pid, &info, unix.WSTOPPED|unix.WNOHANG, nil)
		takeForeground(tty)
		stopSelf()
		if pgrp, err := unix.IoctlGetInt(tty, unix.TIOCGPGRP); err == nil && pgrp == unix.Getpgrp() {
			unix.IoctlSetPointerInt(tty, unix.TIOCSPGRP, pid)
		}
		syscall.Kill(-pid, syscall.SIGCONT)
	}
}

// commOf is the task name of pid (what trace events carry), or the base
// name of the command.
func commOf(pid int, arg0 string) string {
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil {
		if s := strings.TrimSpace(string(b)); s != "" {
			return s
		}
	}
	s := filepath.Base(arg0)
	if len(s) > 15 {
		s = s[:15]
	}
	return s
}

func monoNow() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// drainTo waits until src's clock passes t (no event before t is still to
// come), at most max; without a clock it waits briefly.
func drainTo(src event.Source, t int64, max time.Duration) {
	c, ok := src.(live.Clock)
	if !ok {
		time.Sleep(100 * time.Millisecond)
		return
	}
	deadline := time.Now().Add(max)
	for c.Now() < t && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}
