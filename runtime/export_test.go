package runtime

// BundleBuilds is how many times esbuild ran, so tests can see a cache hit.
func BundleBuilds() int64 { return bundleBuilds.Load() }
