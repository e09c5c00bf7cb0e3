package proctree

import (
	"context"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

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
	if _, ok := src.(clock); ok {
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
