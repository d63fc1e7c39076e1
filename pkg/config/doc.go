// Package config reads pushpin.conf the way Pushpin 1.36's daemons do, and
// gives each daemon a typed view of it.
//
// Reading follows Pushpin's Settings class (src/corelib/settings.cpp):
//
//   - The file is INI as QSettings (IniFormat) reads it: sections, key=value,
//     ';' comments, values with unquoted commas become lists, double quotes
//     group text, C-style escapes. See parseINI / parseINIValue for details.
//   - [global] include names a second file whose keys are used when the main
//     file does not set them (the main file always wins). The literal value
//     "internal.conf" means "{libdir}/internal.conf"; a relative include path
//     is relative to the main file's folder.
//   - String values (and each list element) are templated: {libdir},
//     {rundir} and {ipc_prefix} are replaced, and port_offset is added to
//     the port of every tcp://host:PORT. [handler] push_in_http_port gets the
//     offset too; prometheus ports do not.
//   - The daemons' --ipc-prefix (proxy, handler) and --port-offset (handler)
//     flags replace the config's values; pass them in Options.
//
// The lib dir: Pushpin ships internal.conf (every internal ZeroMQ spec) in
// its lib dir. Options.LibDir plays the part of Pushpin's compiled LIBDIR
// (Debian: /usr/lib/pushpin). When it is empty, or when the include file is
// <libdir>/internal.conf and does not exist, the package uses its own
// built-in internal.conf (embedded; identical to deploy/internal.conf), which
// follows upstream Pushpin: every internal spec is ipc://{rundir}/{ipc_prefix}…
// including zurl's, and [runner] services defaults to
// condure,zurl,pushpin-proxy,pushpin-handler. So a Pushpin user's existing
// pushpin.conf runs unchanged.
//
// Defaults: a key set in neither file gets the value Pushpin's binaries use
// when the key is missing (their compiled default), which is not always the
// value Debian's shipped pushpin.conf sets; each field's comment gives both.
//
// One deliberate difference from Pushpin: relative rundir and logdir are
// resolved against the config file's folder (Pushpin resolves them against
// the runner's working directory). Every daemon that loads the same file then
// agrees on absolute paths whatever its working directory, which is what lets
// deploy/pushpin.conf use rundir=run and logdir=log for an unpackaged run.
//
// Typed values that do not parse are errors naming the file, line and key
// (pushpin.conf:12: key "http_port": …). Keys the package does not know are
// kept in Config.Unknown and are not errors; Config.Value gives raw, templated
// access to any key.
package config
