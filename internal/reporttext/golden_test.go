package reporttext

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"

	"github.com/gpuwatch/gpuwatch/internal/event"
)

// formatEvent is the stable one-line form of an event used by the
// golden files: every model field, absent ones omitted.
func formatEvent(e event.Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d.%09d cpu=%d %s", e.Time/1e9, e.Time%1e9, e.CPU, e.Kind)
	if e.Kind == event.KindLost {
		fmt.Fprintf(&b, " count=%d", e.Count)
		return b.String()
	}
	fmt.Fprintf(&b, " %s pid=%d comm=%q", e.Name, e.PID, e.Comm)
	if e.Ring != "" {
		fmt.Fprintf(&b, " ring=%q", e.Ring)
	}
	if e.Driver != "" {
		fmt.Fprintf(&b, " driver=%q", e.Driver)
	}
	if !e.Job.IsZero() {
		if e.Job.Fence != 0 {
			fmt.Fprintf(&b, " fence=%#x", e.Job.Fence)
		} else {
			fmt.Fprintf(&b, " ctx=%d seq=%d", e.Job.Context, e.Job.Seqno)
		}
	}
	if e.ID != 0 {
		fmt.Fprintf(&b, " id=%d", e.ID)
	}
	if e.Entity != 0 {
		fmt.Fprintf(&b, " entity=%#x", e.Entity)
	}
	if e.JobCount >= 0 {
		fmt.Fprintf(&b, " jobs=%d", e.JobCount)
	}
	if e.HWJobCount >= 0 {
		fmt.Fprintf(&b, " hwjobs=%d", e.HWJobCount)
	}
	if e.Count != 0 {
		fmt.Fprintf(&b, " count=%d", e.Count)
	}
	return b.String()
}

var update = flag.Bool("update", false, "rewrite the want sections of testdata/report/*.txtar")

// TestReportGolden parses the input section of every
// testdata/report/*.txtar archive and compares the decoded events, the
// warnings and the stats with its want section.
func TestReportGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/report/*.txtar")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var input []byte
			wantIdx := -1
			for i, f := range ar.Files {
				switch f.Name {
				case "input":
					input = f.Data
				case "want":
					wantIdx = i
				}
			}
			if input == nil {
				t.Fatal("no input section")
			}
			got := goldenOutput(input)
			if *update {
				if wantIdx < 0 {
					ar.Files = append(ar.Files, txtar.File{Name: "want"})
					wantIdx = len(ar.Files) - 1
				}
				ar.Files[wantIdx].Data = []byte(got)
				if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if wantIdx < 0 {
				t.Fatal("no want section (run with -update)")
			}
			if want := string(ar.Files[wantIdx].Data); got != want {
				t.Errorf("output differs (run go test -run TestReportGolden -update to accept)\n got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// goldenOutput is the stable text form of everything a Reader
// makes of input: one line per event, then warnings, stats and the final
// error.
func goldenOutput(input []byte) string {
	var b strings.Builder
	r := NewReader(bytes.NewReader(input), "input")
	var err error
	for {
		var ev event.Event
		ev, err = r.Next()
		if err != nil {
			break
		}
		b.WriteString(formatEvent(ev))
		b.WriteByte('\n')
	}
	for _, w := range r.Warnings() {
		fmt.Fprintf(&b, "warning: %s\n", w.Error())
	}
	st := r.Stats()
	fmt.Fprintf(&b, "stats: lines=%d events=%d unknown=%d malformed=%d lost=%d cpus=%d version=%d\n",
		st.Lines, st.Events, st.Unknown, st.Malformed, st.Lost, st.CPUs, st.Version)
	names := make([]string, 0, len(st.UnknownByName))
	for n := range st.UnknownByName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "unknown: %s %d\n", n, st.UnknownByName[n])
	}
	if err != io.EOF {
		fmt.Fprintf(&b, "error: %v\n", err)
	}
	return b.String()
}
