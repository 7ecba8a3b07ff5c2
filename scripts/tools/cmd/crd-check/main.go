// Command crd-check validates the custom resources the chart renders, for
// which kubeconform has no schema (the Kubernetes schemas cover built-in kinds
// only): each object is decoded strictly — unknown fields and wrong types are
// errors — into the Go types its operator publishes (for ServiceMonitor,
// prometheus-operator's pkg/apis/monitoring module, from which its CRD is
// generated). CRD-level rules (patterns, enums) are not checked.
// Reads multi-document YAML files; other kinds are passed over.
package main

import (
	"bytes"
	"fmt"
	"os"
	"regexp"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"sigs.k8s.io/yaml"
)

var types = map[string]func() any{
	"monitoring.coreos.com/v1/ServiceMonitor": func() any { return &monitoringv1.ServiceMonitor{} },
	"monitoring.coreos.com/v1/PodMonitor":     func() any { return &monitoringv1.PodMonitor{} },
	"monitoring.coreos.com/v1/PrometheusRule": func() any { return &monitoringv1.PrometheusRule{} },
}

var separator = regexp.MustCompile(`(?m)^---\s*$`)

func main() {
	failed := 0
	checked := 0
	for _, file := range os.Args[1:] {
		data, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		for i, doc := range separator.Split(string(data), -1) {
			if len(bytes.TrimSpace([]byte(doc))) == 0 {
				continue
			}
			var head struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
				fmt.Printf("%s: document %d: %v\n", file, i, err)
				failed++
				continue
			}
			newObject, ok := types[head.APIVersion+"/"+head.Kind]
			if !ok {
				continue
			}
			checked++
			if err := yaml.UnmarshalStrict([]byte(doc), newObject()); err != nil {
				fmt.Printf("%s: %s %s is invalid: %v\n", file, head.Kind, head.Metadata.Name, err)
				failed++
				continue
			}
			fmt.Printf("%s: %s %s is valid\n", file, head.Kind, head.Metadata.Name)
		}
	}
	fmt.Printf("crd-check: %d custom resources checked, %d invalid\n", checked, failed)
	if failed > 0 {
		os.Exit(1)
	}
}
