package proctree

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gpuwatch/gpuwatch/internal/event"
)

// maxDepth bounds a parent-chain walk (a loop in /proc cannot happen, but
// the walk reads files that change under it).
const maxDepth = 256

// Tree is the set of tasks of one process and its descendants.
type Tree struct {
	proc    string // the proc file system, "/proc"
	root    int32  // the process followed
	adopter int32  // adopts the tree's orphans (a child subreaper), or 0
	// rootStart is the root's start time (clock ticks since boot): an
	// adopted orphan of the tree started after it.
	rootStart uint64

	mu     sync.Mutex
	member map[int32]bool // task id → in the tree; false: looked up, not in it
}

// New follows the process root. procRoot is where proc is mounted ("" is
// /proc). adopter, when non-zero, is a process that adopts the orphans of
// the tree (the caller after PR_SET_CHILD_SUBREAPER): a task whose parent
// chain reaches it through a child started after the root is in the tree
// (the adopter's other children, started before, are not).
func New(procRoot string, root, adopter int) *Tree {
	if procRoot == "" {
		procRoot = "/proc"
	}
	t := &Tree{proc: procRoot, root: int32(root), adopter: int32(adopter), member: map[int32]bool{}}
	t.rootStart, _ = t.startTime(int32(root))
	t.member[int32(root)] = true
	return t
}

// Contains reports whether task tid is in the tree. A task not seen by a
// scan is looked up in proc once; a task that is gone by then is not in
// the tree (and is asked about again next time).
func (t *Tree) Contains(tid int32) bool {
	if tid <= 0 {
		return false
	}
	t.mu.Lock()
	in, known := t.member[tid]
	t.mu.Unlock()
	if known {
		return in
	}
	in, ok := t.lookup(tid)
	if !ok {
		return false
	}
	t.mu.Lock()
	if prev, known := t.member[tid]; known {
		in = prev // a scan was quicker; it saw the task alive
	} else {
		t.member[tid] = in
	}
	t.mu.Unlock()
	return in
}

// lookup walks tid's parent chain in proc; ok is false when tid is gone.
func (t *Tree) lookup(tid int32) (in, ok bool) {
	tgid, ppid, ok := t.status(tid)
	if !ok {
		return false, false
	}
	if tgid == t.adopter {
		return false, true
	}
	pid, prev := tgid, int32(0)
	for range maxDepth {
		if pid == t.root {
			return true, true
		}
		if pid == t.adopter {
			return t.adopted(prev), true
		}
		if pid != tgid {
			if _, ppid, ok = t.status(pid); !ok {
				return false, false
			}
		}
		if ppid <= 1 {
			return false, true
		}
		pid, prev = ppid, pid
	}
	return false, true
}

// adopted reports whether pid, a child of the adopter, is an orphan of
// the tree: it started after the root (and it is not the adopter itself).
func (t *Tree) adopted(pid int32) bool {
	if pid <= 0 || pid == t.adopter {
		return false
	}
	start, ok := t.startTime(pid)
	return ok && start >= t.rootStart
}

// startTime reads the start time of process pid (field 22 of its stat).
func (t *Tree) startTime(pid int32) (uint64, bool) {
	b, err := os.ReadFile(filepath.Join(t.proc, strconv.Itoa(int(pid)), "stat"))
	if err != nil {
		return 0, false
	}
	// The name (field 2) may hold spaces and parentheses: fields count
	// from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 20 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(f[19]), 10, 64)
	return v, err == nil
}

// status reads the Tgid and PPid of task id from proc.
func (t *Tree) status(id int32) (tgid, ppid int32, ok bool) {
	b, err := os.ReadFile(filepath.Join(t.proc, strconv.Itoa(int(id)), "status"))
	if err != nil {
		return 0, 0, false
	}
	var gotT, gotP bool
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() && !(gotT && gotP) {
		line := sc.Bytes()
		if v, found := bytes.CutPrefix(line, []byte("Tgid:")); found {
			n, err := strconv.Atoi(string(bytes.TrimSpace(v)))
			tgid, gotT = int32(n), err == nil
		} else if v, found := bytes.CutPrefix(line, []byte("PPid:")); found {
			n, err := strconv.Atoi(string(bytes.TrimSpace(v)))
			ppid, gotP = int32(n), err == nil
		}
	}
	return tgid, ppid, gotT && gotP
}

// Scan adds every task of the tree alive now: the root's and its
// descendants' threads, and those of the orphans the adopter adopted.
func (t *Tree) Scan() {
	queue := []int32{t.root}
	if t.adopter > 0 {
		for _, c := range t.children(t.adopter) {
			if t.adopted(c) {
				queue = append(queue, c)
			}
		}
	}
	seen := map[int32]bool{}
	var found []int32
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if seen[pid] {
			continue
		}
		seen[pid] = true
		tasks, _ := os.ReadDir(filepath.Join(t.proc, strconv.Itoa(int(pid)), "task"))
		for _, e := range tasks {
			if n, err := strconv.Atoi(e.Name()); err == nil {
				found = append(found, int32(n))
			}
		}
		queue = append(queue, t.children(pid)...)
	}
	t.mu.Lock()
	for _, tid := range found {
		t.member[tid] = true
	}
	t.mu.Unlock()
}

// children lists the child processes of pid (from every thread's
// children file: a child belongs to the thread that forked it).
func (t *Tree) children(pid int32) []int32 {
	dir := filepath.Join(t.proc, strconv.Itoa(int(pid)), "task")
	tasks, _ := os.ReadDir(dir)
	var out []int32
	for _, e := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "children"))
		if err != nil {
			continue
		}
		for _, f := range bytes.Fields(b) {
			if n, err := strconv.Atoi(string(f)); err == nil {
				out = append(out, int32(n))
			}
		}
	}
	return out
}

// Follow scans the tree every interval until ctx ends.
func (t *Tree) Follow(ctx context.Context, interval time.Duration) {
	tk := time.NewTicker(interval)
	defer tk.Stop()
	for {
		t.Scan()
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
	}
}

// Credit credits the submissions (queue and run events) of a tree's tasks
// to one task, pid and comm: the engine's per-process table then holds the
// whole tree as one row, its busy time the union of its jobs'. Its zero
// value credits nothing until To is called, so a source can be wrapped
// before the command it follows starts.
type Credit struct{ to atomic.Pointer[credit] }

type credit struct {
	t    *Tree
	pid  int32
	comm string
}

// To credits the submissions of t's tasks to pid and comm from now on.
// Safe while Source's result is read.
func (c *Credit) To(t *Tree, pid int32, comm string) {
	c.to.Store(&credit{t: t, pid: pid, comm: comm})
}

// Source returns src with the submissions credited as c says. It has
// only Next: live.Forward gives it src's clock and stop.
func (c *Credit) Source(src event.Source) event.Source {
	return &attributed{src: src, c: c}
}

type attributed struct {
	src event.Source
	c   *Credit
}

func (a *attributed) Next() (event.Event, error) {
	ev, err := a.src.Next()
	if err == nil && (ev.Kind == event.KindQueue || ev.Kind == event.KindRun) {
		if to := a.c.to.Load(); to != nil && to.t.Contains(ev.PID) {
			ev.PID, ev.Comm = to.pid, to.comm
		}
	}
	return ev, err
}
