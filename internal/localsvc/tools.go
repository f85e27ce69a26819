package localsvc

import (
	"fmt"
	"go/build"
	"os"
	"os/exec"
	"path/filepath"
)

// InstallHint is how the helper binaries get installed at their pinned versions.
const InstallHint = "run scripts/services.sh tools"

// FindTool resolves a helper binary (temporal, versitygw, mariadbd): configured when set, then
// PATH, then $(go env GOPATH)/bin and ~/go/bin, where scripts/services.sh builds them, then
// /usr/sbin and /usr/local/sbin, where Debian installs mariadbd. The error names where it
// looked and how to install it.
func FindTool(configured, name string) (string, error) {
	if configured != "" {
		return configured, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range toolDirs() {
		p := filepath.Join(d, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH, $(go env GOPATH)/bin or /usr/sbin: %s", name, InstallHint)
}

func toolDirs() []string {
	var dirs []string
	add := func(d string) {
		for _, have := range dirs {
			if have == d {
				return
			}
		}
		dirs = append(dirs, d)
	}
	if gp := os.Getenv("GOPATH"); gp != "" {
		add(filepath.Join(filepath.SplitList(gp)[0], "bin"))
	}
	if build.Default.GOPATH != "" {
		add(filepath.Join(filepath.SplitList(build.Default.GOPATH)[0], "bin"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		add(filepath.Join(home, "go", "bin"))
	}
	add("/usr/sbin")
	add("/usr/local/sbin")
	return dirs
}
