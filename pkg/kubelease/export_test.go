package kubelease

// Expected is expected, for the tests.
var Expected = expected
