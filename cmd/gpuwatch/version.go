package main

import (
	"fmt"
	"io"
	"runtime/debug"
)

func init() {
	commands = append(commands, command{"version", "print the version", func(_ []string, _ io.Reader, stdout, _ io.Writer) int {
		fmt.Fprintln(stdout, "gpuwatch", buildVersion())
		return exitOK
	}})
}

// buildVersion is the module version, or the VCS revision of a source build.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return "devel-" + s.Value[:12]
		}
	}
	return "devel"
}
