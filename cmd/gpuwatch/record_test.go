package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gpuwatch/gpuwatch/internal/tracefs/livetest"
)

const recordSeed = "../../testdata/traces/seed-s7150-half.report"

// TestWatchRecordRefusals: --record refuses a symlink (even with --force,
// and leaves its target alone), an existing file without --force, and the
// replay input itself; nothing is replayed then.
func TestWatchRecordRefusals(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "precious")
	if err := os.WriteFile(target, []byte("keep me\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.report")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "in.report")
	seed, err := os.ReadFile(recordSeed)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(in, seed, 0o644)
	inLink := filepath.Join(dir, "in-link.report")
	os.Symlink(in, inLink)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--record", link}, "is a symbolic link: refusing to follow it"},
		{[]string{"--record", link, "--force"}, "is a symbolic link: refusing to follow it"},
		{[]string{"--record", target}, "the file exists (--force overwrites it)"},
		{[]string{"--record", in, "--force"}, "it is the --replay input: refusing to overwrite it"},
		{[]string{"--record", inLink, "--force"}, "refusing"},
		{[]string{"--force"}, "--force: only with --record"},
	} {
		var out, errb bytes.Buffer
		code := run(append([]string{"watch", "--replay", in, "--speed", "0", "--json", "--listen", ""}, tc.args...), &out, &errb)
		if code != exitUsage || !strings.Contains(errb.String(), tc.want) || strings.Count(errb.String(), "\n") != 1 {
			t.Errorf("%q: exit %d, stderr %q; want 2 and one line with %q", tc.args, code, errb.String(), tc.want)
		}
		if out.Len() != 0 {
			t.Errorf("%q: replayed anyway: %.80q", tc.args, out.String())
		}
	}
	if b, _ := os.ReadFile(target); string(b) != "keep me\n" {
		t.Errorf("the symlink's target was changed: %q", b)
	}
	if b, _ := os.ReadFile(in); !bytes.Equal(b, seed) {
		t.Errorf("the replay input was changed")
	}
	// --force overwrites a plain existing file.
	var out, errb bytes.Buffer
	if code := run([]string{"watch", "--replay", in, "--speed", "0", "--json", "--listen", "", "--record", target, "--force"}, &out, &errb); code != exitOK {
		t.Fatalf("--force: exit %d: %s", code, errb.String())
	}
	if b, _ := os.ReadFile(target); bytes.Equal(b, []byte("keep me\n")) || len(b) == 0 {
		t.Errorf("--force did not overwrite %s", target)
	}
}

// TestWatchRecordWriteError: a recording that cannot be written (a full
// disk: /dev/full) is reported once, stops, and the watch goes on to its
// final object; the exit status says the recording failed.
func TestWatchRecordWriteError(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		livetest.Skip(t, "no /dev/full: %v", err)
	}
	var out, errb bytes.Buffer
	code := run([]string{"watch", "--replay", recordSeed, "--speed", "0", "--json", "--listen", "", "--record", "/dev/full", "--force"}, &out, &errb)
	if code != exitUsage {
		t.Errorf("exit %d, want 2", code)
	}
	if n := strings.Count(errb.String(), "recording stopped"); n != 1 {
		t.Errorf("%d messages about the recording, want 1: %q", n, errb.String())
	}
	ls := parseWatch(t, out.Bytes())
	final := ls[len(ls)-1]
	if final.Events == 0 {
		t.Errorf("the watch did not go on: final object with no events")
	}
	if len(final.Warnings) != 1 || !strings.Contains(final.Warnings[0], "recording stopped") {
		t.Errorf("final object's warnings %q", final.Warnings)
	}
}
