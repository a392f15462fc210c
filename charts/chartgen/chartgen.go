package chartgen

// HelmDocsArgs are the arguments of helm-docs (hack/tools/helm-docs.sh)
// that write chartDir/README.md from chartDir/README.md.gotmpl and
// chartDir/values.yaml, with the values in file order.
func HelmDocsArgs(chartDir string) []string {
	return []string{
		"--chart-search-root", chartDir,
		"--template-files", "README.md.gotmpl",
		"--sort-values-order", "file",
		"--log-level", "warning",
	}
}
