package stats

// Metric describes one of the Prometheus metrics Pushpin 1.35+ serves on
// prometheus_port (reference §8.2). Names are prefixed with the configured
// prometheus_prefix; values come from the combined report, and
// connection_connected is the report period's maximum.
type Metric struct {
	Name string // without prefix
	Type string // "counter" or "gauge"
	Help string
}

// Metrics lists the metrics in the order Pushpin writes them.
var Metrics = []Metric{
	{Name: "request_received", Type: "counter", Help: "Number of requests received"},
	{Name: "connection_connected", Type: "gauge", Help: "Number of concurrent connections"},
	{Name: "connection_minute", Type: "counter", Help: "Number of minutes clients have been connected"},
	{Name: "message_received", Type: "counter", Help: "Number of messages received by the publish API"},
	{Name: "message_sent", Type: "counter", Help: "Number of messages sent to clients"},
}
