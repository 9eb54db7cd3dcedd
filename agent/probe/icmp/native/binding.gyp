{
  "targets": [
    {
      "target_name": "icmp_recv",
      "sources": ["icmp_recv.c"],
      "cflags": ["-O2", "-Wall", "-Wextra"]
    }
  ]
}
