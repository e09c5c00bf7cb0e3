package tracefs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Roots are the places tracefs is mounted, in the order FindRoot tries
// them: its own mount point (Linux 4.1+) and the older one under debugfs.
var Roots = []string{"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}

// ErrNotMounted means no tracefs is mounted at any of Roots.
var ErrNotMounted = errors.New("tracefs not mounted at /sys/kernel/tracing or /sys/kernel/debug/tracing")

// FindRoot returns where tracefs is mounted: the first of Roots that has
// an events/header_page file. When none has, the error wraps
// fs.ErrPermission if one could not be read (not root, or capabilities
// dropped), ErrNotMounted otherwise. It mounts nothing: Open mounts
// tracefs itself when FindRoot finds none.
//
// Every user of the live kernel's tracefs (the live reader, the eBPF
// source, the live tests) finds it here.
func FindRoot() (string, error) {
	var denied error
	for _, d := range Roots {
		_, err := os.Stat(filepath.Join(d, "events", "header_page"))
		if err == nil {
			return d, nil
		}
		if denied == nil && errors.Is(err, fs.ErrPermission) {
			denied = fmt.Errorf("reading %s: %w", d, fs.ErrPermission)
		}
	}
	if denied != nil {
		return "", denied
	}
	return "", ErrNotMounted
}
