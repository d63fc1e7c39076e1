package zmqx

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pebbe/zmq4"
)

// ErrNoSpecs is returned when a socket is set up with an empty spec list.
var ErrNoSpecs = errors.New("zmqx: no endpoint specs")

// ErrIPCInUse is returned when binding an ipc:// endpoint whose socket file
// is held by a live listener (another process, or another socket in this
// one).
var ErrIPCInUse = errors.New("zmqx: ipc endpoint in use")

// ParseSpecs splits a comma-separated list of ZeroMQ endpoints, the form
// Pushpin config keys such as condure_in_specs take. Whitespace around each
// element is trimmed. An empty (or all-blank) string yields an empty list; an
// empty element inside a list ("a,,b", a trailing comma) is an error, as is an
// element that is not "transport://address".
func ParseSpecs(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	specs := make([]string, 0, len(parts))
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if err := ValidateSpec(p); err != nil {
			return nil, fmt.Errorf("spec %d of %q: %w", i+1, s, err)
		}
		specs = append(specs, p)
	}
	return specs, nil
}

// ValidateSpec checks that spec has the shape "transport://address" with a
// lower-case transport name and a non-empty address. It does not check that
// libzmq supports the transport; bind or connect reports that.
func ValidateSpec(spec string) error {
	if spec == "" {
		return errors.New("empty endpoint spec")
	}
	transport, addr, ok := strings.Cut(spec, "://")
	if !ok {
		return fmt.Errorf("endpoint %q: missing \"://\"", spec)
	}
	if transport == "" {
		return fmt.Errorf("endpoint %q: empty transport", spec)
	}
	for _, r := range transport {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '+' {
			return fmt.Errorf("endpoint %q: invalid transport %q", spec, transport)
		}
	}
	if addr == "" {
		return fmt.Errorf("endpoint %q: empty address", spec)
	}
	return nil
}

// IPCMode is the permission mode applied to ipc socket files after a bind
// (Pushpin's ipc_file_mode, condure's --ipc-file-mode). The zero value means
// "leave the mode as created", which is Pushpin's default (-1).
type IPCMode struct {
	perm os.FileMode
	set  bool
}

// ParseIPCMode parses an ipc_file_mode value as Pushpin configs give it: an
// octal number such as "777" or "0660". An empty string yields the zero
// (unset) IPCMode. Like Pushpin's zutil, only the nine rwx permission bits
// are applied; higher bits (setuid, sticky) are ignored.
func ParseIPCMode(s string) (IPCMode, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return IPCMode{}, nil
	}
	n, err := strconv.ParseUint(s, 8, 31)
	if err != nil {
		return IPCMode{}, fmt.Errorf("ipc file mode %q: not an octal number", s)
	}
	return IPCModeOf(os.FileMode(n)), nil
}

// IPCModeOf returns an IPCMode that sets perm (masked to the rwx bits).
func IPCModeOf(perm os.FileMode) IPCMode {
	return IPCMode{perm: perm & os.ModePerm, set: true}
}

// Perm reports the permission bits and whether a mode is set at all.
func (m IPCMode) Perm() (os.FileMode, bool) { return m.perm, m.set }

// String returns the mode in octal ("0660"), or "unset".
func (m IPCMode) String() string {
	if !m.set {
		return "unset"
	}
	return fmt.Sprintf("%04o", uint32(m.perm))
}

// Endpoint says how a socket attaches to its spec list.
type Endpoint struct {
	// Specs is the endpoint list. When binding only Specs[0] is used.
	Specs []string
	// Bind selects bind (first spec only) instead of connect (all specs).
	Bind bool
	// IPCMode is applied to the socket file after binding an ipc:// spec.
	IPCMode IPCMode
}

// Setup binds or connects sock according to ep. For a bind it returns the
// endpoint actually bound (ZMQ_LAST_ENDPOINT), which resolves wildcards such
// as "tcp://127.0.0.1:*"; for a connect it returns "".
func Setup(sock *zmq4.Socket, ep Endpoint) (string, error) {
	if ep.Bind {
		return BindFirst(sock, ep.Specs, ep.IPCMode)
	}
	return "", ConnectAll(sock, ep.Specs)
}

// BindFirst binds sock to the first spec of specs only, mirroring Pushpin's
// zutil ("when a component binds a list of specs only the first is bound").
// It returns the bound endpoint as reported by ZMQ_LAST_ENDPOINT.
//
// For an ipc:// spec naming a file path (not "*" and not an abstract "@name"):
//   - the parent directories are created (mode 0755) if missing;
//   - an existing socket file with nothing listening on it is treated as left
//     over from a crashed process and removed before binding;
//   - an existing socket file with a live listener is an error (ErrIPCInUse).
//     This is deliberately stricter than Pushpin: libzmq unlinks whatever is at
//     the path before binding, so a second Pushpin silently steals the
//     endpoint of a running one, whose peers then talk to the wrong process;
//   - an existing file that is not a socket is an error and is left alone
//     (libzmq would delete it).
//
// After binding, if mode is set the socket file is chmod'ed to it, as
// Pushpin's zutil does for ipc_file_mode.
func BindFirst(sock *zmq4.Socket, specs []string, mode IPCMode) (string, error) {
	if len(specs) == 0 {
		return "", ErrNoSpecs
	}
	spec := specs[0]
	if err := ValidateSpec(spec); err != nil {
		return "", err
	}
	path, isFile := ipcFilePath(spec)
	if isFile {
		if err := prepareIPCPath(path); err != nil {
			return "", fmt.Errorf("bind %s: %w", spec, err)
		}
	}
	if err := sock.Bind(spec); err != nil {
		return "", fmt.Errorf("bind %s: %w", spec, err)
	}
	bound, err := sock.GetLastEndpoint()
	if err != nil {
		return "", fmt.Errorf("bind %s: read last endpoint: %w", spec, err)
	}
	if perm, ok := mode.Perm(); ok && strings.HasPrefix(spec, "ipc://") {
		// A wildcard ("ipc://*") only has a file name once bound.
		p, isFile := ipcFilePath(bound)
		if isFile {
			if err := os.Chmod(p, perm); err != nil {
				return "", fmt.Errorf("bind %s: set ipc file mode %s: %w", spec, mode, err)
			}
		}
	}
	return bound, nil
}

// ConnectAll connects sock to every spec in specs, mirroring Pushpin's zutil.
// Unlike Pushpin, which ignores connect failures, an invalid endpoint is
// reported.
func ConnectAll(sock *zmq4.Socket, specs []string) error {
	if len(specs) == 0 {
		return ErrNoSpecs
	}
	for _, spec := range specs {
		if err := ValidateSpec(spec); err != nil {
			return err
		}
		if err := sock.Connect(spec); err != nil {
			return fmt.Errorf("connect %s: %w", spec, err)
		}
	}
	return nil
}

// ipcFilePath returns the file path of an ipc:// endpoint that names a file.
// Wildcards and Linux abstract-namespace endpoints have no file.
func ipcFilePath(spec string) (string, bool) {
	path, ok := strings.CutPrefix(spec, "ipc://")
	if !ok || path == "" || path == "*" || strings.HasPrefix(path, "@") {
		return "", false
	}
	return path, true
}

// staleProbeTimeout bounds the connect used to tell a live ipc listener from
// a stale socket file. Connecting to a unix socket does not wait on the
// network, so this only matters for a listener whose backlog is full.
const staleProbeTimeout = time.Second

// prepareIPCPath makes the parent directory of an ipc socket file and removes
// a stale socket file left by a process that no longer listens on it.
func prepareIPCPath(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create ipc directory: %w", err)
	}
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stat ipc file: %w", err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("ipc path %s exists and is not a socket", path)
	}
	conn, err := net.DialTimeout("unix", path, staleProbeTimeout)
	if err == nil {
		conn.Close()
		return fmt.Errorf("%w: %s has a live listener", ErrIPCInUse, path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("probe ipc file %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale ipc file: %w", err)
	}
	return nil
}
