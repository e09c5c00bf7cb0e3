package proctree

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gpuwatch/gpuwatch/internal/event"
)

// startTree starts sh with two sleeping children and returns sh's pid and
// the children's.
func startTree(t *testing.T) (root int, kids []int) {
	t.Helper()
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	cmd := exec.Command("sh", "-c", "sleep 30 & echo $!; sleep 30 & echo $!; wait")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, k := range kids {
			kill(k)
		}
		cmd.Process.Kill()
		cmd.Wait()
	})
	buf := make([]byte, 0, 64)
	tmp := make([]byte, 64)
	for strings.Count(string(buf), "\n") < 2 {
		n, err := out.Read(tmp)
		if err != nil {
			t.Fatalf("reading the children's pids: %v", err)
		}
		buf = append(buf, tmp[:n]...)
	}
	for _, f := range strings.Fields(string(buf)) {
		k, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		kids = append(kids, k)
	}
	return cmd.Process.Pid, kids
}

func kill(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		p.Kill()
	}
}

func TestContainsLooksUp(t *testing.T) {
	root, kids := startTree(t)
	tr := New("", root, 0)
	for _, k := range kids {
		if !tr.Contains(int32(k)) {
			t.Errorf("child %d of %d not in the tree", k, root)
		}
	}
	for _, other := range []int{os.Getpid(), 1, 2} {
		if tr.Contains(int32(other)) {
			t.Errorf("pid %d is in the tree of %d", other, root)
		}
	}
	if !tr.Contains(int32(root)) {
		t.Error("the root is not in its tree")
	}
}

func TestScanAndGone(t *testing.T) {
	root, kids := startTree(t)
	tr := New("", root, 0)
	if _, err := os.Stat("/proc/self/task/" + strconv.Itoa(os.Getpid()) + "/children"); err != nil {
		t.Skip("the kernel has no /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN)")
	}
	tr.Scan()
	// The children end; the scan already saw them.
	for _, k := range kids {
		kill(k)
	}
	time.Sleep(100 * time.Millisecond)
	for _, k := range kids {
		if !tr.Contains(int32(k)) {
			t.Errorf("child %d, scanned alive, is not in the tree after it ended", k)
		}
	}
	// A fresh tree does not know them, and cannot look them up any more.
	fresh := New("", root, 0)
	for _, k := range kids {
		if _, err := os.Stat("/proc/" + strconv.Itoa(k) + "/status"); err == nil {
			continue // still a zombie: proc shows it
		}
		if fresh.Contains(int32(k)) {
			t.Errorf("ended child %d found without a scan", k)
		}
	}
}

func TestFollowStops(t *testing.T) {
	root, _ := startTree(t)
	tr := New("", root, 0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { tr.Follow(ctx, 10*time.Millisecond); close(done) }()
	time.Sleep(30 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Follow did not return after its context ended")
	}
}

type sliceSource struct{ evs []event.Event }

func (s *sliceSource) Next() (event.Event, error) {
	if len(s.evs) == 0 {
		return event.Event{}, io.EOF
	}
	ev := s.evs[0]
	s.evs = s.evs[1:]
	return ev, nil
}

func TestCredit(t *testing.T) {
	root, kids := startTree(t)
	tr := New("", root, 0)
	in := []event.Event{
		{Kind: event.KindQueue, PID: int32(kids[0]), Comm: "sleep"},
		{Kind: event.KindRun, PID: int32(kids[1]), Comm: "sleep"},
		{Kind: event.KindQueue, PID: int32(os.Getpid()), Comm: "other"},
		{Kind: event.KindDone, PID: int32(kids[0]), Comm: "sleep"},
		{Kind: event.KindRun, PID: 0, Comm: "swapper"},
	}
	var c Credit
	src := c.Source(&sliceSource{evs: append([]event.Event{{Kind: event.KindQueue, PID: int32(root), Comm: "sh"}}, in...)})
	if _, ok := src.(interface{ Now() int64 }); ok {
		t.Error("Source gave a clock to a source without one")
	}
	// Before To, nothing is credited.
	if ev, _ := src.Next(); ev.PID != int32(root) || ev.Comm != "sh" {
		t.Errorf("before To: got %s-%d, want sh-%d", ev.Comm, ev.PID, root)
	}
	c.To(tr, int32(root), "bench")
	want := []struct {
		pid  int32
		comm string
	}{{int32(root), "bench"}, {int32(root), "bench"}, {int32(os.Getpid()), "other"}, {int32(kids[0]), "sleep"}, {0, "swapper"}}
	for i, w := range want {
		ev, err := src.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.PID != w.pid || ev.Comm != w.comm {
			t.Errorf("event %d (%v pid %d): got %s-%d, want %s-%d", i, in[i].Kind, in[i].PID, ev.Comm, ev.PID, w.comm, w.pid)
		}
	}
	if _, err := src.Next(); err != io.EOF {
		t.Errorf("end: %v, want EOF", err)
	}
}

// TestAdopted: with the caller as child subreaper, an orphan of the tree
// (its parent exited) is in the tree; the caller's other children, started
// before the root, are not.
func TestAdopted(t *testing.T) {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Skipf("no child subreaper: %v", err)
	}
	outsider := exec.Command("sleep", "30")
	if err := outsider.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { outsider.Process.Kill(); outsider.Wait() }()
	time.Sleep(20 * time.Millisecond) // a later clock tick than the root's

	// The root starts an intermediate shell that starts a sleep and exits:
	// the sleep is orphaned, and adopted by this process.
	root := exec.Command("sh", "-c", `sh -c 'sleep 30 >/dev/null & echo $!'; sleep 30`)
	out, err := root.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := root.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { root.Process.Kill(); root.Wait() }()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	orphan, _ := strconv.Atoi(strings.TrimSpace(line))
	defer kill(orphan)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", orphan))
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(os.Getpid()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sleep %d was not adopted by this process: %s", orphan, b)
		}
	}
	tr := New("", root.Process.Pid, os.Getpid())
	if !tr.Contains(int32(orphan)) {
		t.Errorf("the adopted orphan %d is not in the tree", orphan)
	}
	if tr.Contains(int32(outsider.Process.Pid)) {
		t.Errorf("the caller's own child %d, older than the root, is in the tree", outsider.Process.Pid)
	}
	if tr.Contains(int32(os.Getpid())) {
		t.Error("the adopter is in the tree")
	}
	// A scan finds the orphan too.
	scanned := New("", root.Process.Pid, os.Getpid())
	scanned.Scan()
	scanned.mu.Lock()
	in, out2 := scanned.member[int32(orphan)], scanned.member[int32(outsider.Process.Pid)]
	scanned.mu.Unlock()
	if _, err := os.Stat(fmt.Sprintf("/proc/%d/task/%d/children", os.Getpid(), os.Getpid())); err == nil && (!in || out2) {
		t.Errorf("scan: orphan in tree %v, outsider in tree %v", in, out2)
	}
}
