{
  "targets": [
    {
      "target_name": "fleetprobe_native",
      "sources": ["fleetprobe_native.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
