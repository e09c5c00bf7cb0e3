package input

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

var update = flag.Bool("update", false, "rewrite the want sections of testdata/lifecycle/*.txtar")

// TestLifecycleGolden reads each kernel generation's amdgpu, dma_fence
// and gpu_scheduler lines (testdata/lifecycle/*.txtar: the comment
// cites the kernel versions and files the formats come from) through
// Open and the engine, and compares the job accounting with the want
// section.
func TestLifecycleGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/lifecycle/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no goldens: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var in []byte
			for _, f := range ar.Files {
				if f.Name == "input" {
					in = f.Data
				}
			}
			if in == nil {
				t.Fatal("no input section")
			}
			path := filepath.Join(t.TempDir(), "trace.report")
			if err := os.WriteFile(path, in, 0o644); err != nil {
				t.Fatal(err)
			}
			s, st := analyzeFile(t, path, Options{})
			var b strings.Builder
			for _, r := range s.Rings {
				fmt.Fprintf(&b, "ring %s: jobs=%d in-flight=%d p50=%v\n", r.Name, r.Jobs, r.InFlight, r.LatencyP50)
				for _, p := range r.Processes {
					fmt.Fprintf(&b, "  %s-%d: jobs=%d\n", p.Comm, p.PID, p.Jobs)
				}
			}
			in2 := s.Input
			fmt.Fprintf(&b, "events=%d malformed=%d unknown=%d unmatched=%d implied=%d expired=%d duplicate=%d fences_other=%d fences_unmatched=%d complete_from=%d\n",
				in2.Events, st.Malformed, st.Unknown, in2.Unmatched, in2.Implied, in2.Expired, in2.Duplicate, in2.FencesOther, in2.FencesUnmatched, in2.CompleteFrom)
			for _, w := range st.Warnings {
				fmt.Fprintf(&b, "warning: %s\n", strings.ReplaceAll(w, path, "trace.report"))
			}
			fmt.Fprintf(&b, "windows=%d detected=%v\n", len(s.Windows), s.Timeslice.Detected)
			got := b.String()
			if *update {
				var files []txtar.File
				for _, f := range ar.Files {
					if f.Name != "want" {
						files = append(files, f)
					}
				}
				ar.Files = append(files, txtar.File{Name: "want", Data: []byte(got)})
				if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			for _, f := range ar.Files {
				if f.Name == "want" {
					if string(f.Data) != got {
						t.Errorf("differs (go test ./internal/input -run LifecycleGolden -update)\n got:\n%s\nwant:\n%s", got, f.Data)
					}
					return
				}
			}
			t.Fatal("no want section (run with -update)")
		})
	}
}
