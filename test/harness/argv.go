package harness

import (
	"strconv"
)

// The command lines below are the ones Pushpin 1.36's runner builds for its
// children (reference §1.2, verified with ps), so a component started
// directly by the harness sees exactly what it would see under the runner.

// CondureArgs is condure's argv under the runner: one plain HTTP listener,
// the stream ZHTTP sockets at ipc://<rundir>/<prefix>condure-*.
func CondureArgs(c *Config) []string {
	return []string{
		"--log-level=" + strconv.Itoa(c.LogLevel),
		"--listen=" + c.HTTPAddr() + ",stream",
		"--zclient-stream=" + c.IPC("condure"),
		"--buffer-size=" + strconv.Itoa(c.ClientBufferSize),
		"--stream-maxconn=" + strconv.Itoa(c.ClientMaxConn),
	}
}

// ZurlArgs is zurl's argv under the runner: --verbose at level 3, else
// --loglevel=N.
func ZurlArgs(c *Config) []string {
	args := []string{"--config=" + c.ZurlConfigPath(), "--logfile=" + c.LogFile("zurl")}
	if c.LogLevel >= 3 {
		return append(args, "--verbose")
	}
	return append(args, "--loglevel="+strconv.Itoa(c.LogLevel))
}

// ProxyArgs is pushpin-proxy's argv under the runner; quietCheck is set
// when zurl is one of the runner's services.
func ProxyArgs(c *Config, quietCheck bool) []string {
	args := []string{
		"--config=" + c.ConfigPath,
		"--ipc-prefix=" + c.IPCPrefix,
		"--logfile=" + c.LogFile("pushpin-proxy"),
		"--loglevel=" + strconv.Itoa(c.LogLevel),
	}
	if quietCheck {
		args = append(args, "--quiet-check")
	}
	return args
}

// HandlerArgs is pushpin-handler's argv under the runner.
func HandlerArgs(c *Config) []string {
	return []string{
		"--config=" + c.ConfigPath,
		"--ipc-prefix=" + c.IPCPrefix,
		"--logfile=" + c.LogFile("pushpin-handler"),
		"--loglevel=" + strconv.Itoa(c.LogLevel),
	}
}

// RunnerArgs is the runner's argv: the generated config and the log level.
// The runner logs to stdout, which the harness captures.
func RunnerArgs(c *Config) []string {
	return []string{"--config=" + c.ConfigPath, "--loglevel=" + strconv.Itoa(c.LogLevel)}
}
