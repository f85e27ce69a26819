package localsvc

import (
	"os"
	"path/filepath"
	"syscall"
)

// VersityGW is a versitygw S3 gateway serving a posix folder.
type VersityGW struct {
	// Bin is the versitygw binary; empty: FindTool.
	Bin string
	// Addr is the host:port to listen on.
	Addr   string
	Region string
	// Root is the posix folder; each bucket is a folder of it.
	Root string
	// Sidecar keeps object metadata in this folder instead of extended attributes (for file
	// systems without them: see SupportsXattrs). Empty: xattrs.
	Sidecar string
	// AccessKey and SecretKey are the root credentials.
	AccessKey, SecretKey string
}

// Spec is the child that runs the gateway, in base's environment (nil: the parent's).
// Credentials go through the environment, never argv, so ps does not show them.
func (v VersityGW) Spec(base []string) (ChildSpec, error) {
	bin, err := FindTool(v.Bin, "versitygw")
	if err != nil {
		return ChildSpec{}, err
	}
	if base == nil {
		base = os.Environ()
	}
	args := []string{"--port", v.Addr, "--region", v.Region, "--quiet", "posix"}
	if v.Sidecar != "" {
		args = append(args, "--sidecar", v.Sidecar)
	}
	args = append(args, v.Root)
	return ChildSpec{
		Path: bin,
		Args: args,
		Env: WithEnv(base, map[string]string{
			"ROOT_ACCESS_KEY_ID":     v.AccessKey,
			"ROOT_SECRET_ACCESS_KEY": v.SecretKey,
		}),
	}, nil
}

// SupportsXattrs says whether dir's file system keeps user extended attributes, where the
// posix backend stores object metadata (content type, ETag, checksums); some tmpfs and
// overlay setups do not, and then VersityGW.Sidecar is needed.
func SupportsXattrs(dir string) bool {
	p := filepath.Join(dir, ".xattr-probe")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		return false
	}
	defer os.Remove(p)
	return syscall.Setxattr(p, "user.logetl.probe", []byte("1"), 0) == nil
}
