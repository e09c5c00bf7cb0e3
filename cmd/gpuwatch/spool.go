package main

import (
	"fmt"
	"io"
	"os"
)

// spoolLimit bounds the temporary copy of a trace.dat read from a pipe or
// through gzip (it needs random access): larger input is refused rather
// than filling the disk.
var spoolLimit int64 = 8 << 30

// spool copies at most spoolLimit bytes of r to tmp; more is an error
// saying what to do instead.
func spool(tmp *os.File, r io.Reader, display string) error {
	n, err := io.Copy(tmp, io.LimitReader(r, spoolLimit+1))
	if err != nil {
		return fmt.Errorf("%s: spooling trace.dat: %w", display, err)
	}
	if n > spoolLimit {
		return fmt.Errorf("%s: a trace.dat from a pipe or gzip is copied to a temporary file first, and this one is over the %d MiB limit: decompress it to a file and analyze that", display, spoolLimit>>20)
	}
	return nil
}
