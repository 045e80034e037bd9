"""Python helpers of the khoboot scripts (standard library only)."""
