// Placeholder so the package builds; replaced as the target is written.
