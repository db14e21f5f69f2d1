# Pinned SSH host keys, by host name. These are placeholders: the lab script writes this
# file again with the fingerprints of the keys its sshd instances generate
# (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`). Until then every connection is
# refused, which is the point of pinning.

host_keys = {
  "north-1"     = "SHA256:LabPlaceholderNorth1AAAAAAAAAAAAAAAAAAAAAAA"
  "lakeside-1"  = "SHA256:LabPlaceholderLakeside1AAAAAAAAAAAAAAAAAAAA"
  "hillcrest-1" = "SHA256:LabPlaceholderHillcrest1AAAAAAAAAAAAAAAAAAA"
  "dc-cp-1"     = "SHA256:LabPlaceholderDcCp1AAAAAAAAAAAAAAAAAAAAAAAA"
  "dc-cp-2"     = "SHA256:LabPlaceholderDcCp2AAAAAAAAAAAAAAAAAAAAAAAA"
  "dc-cp-3"     = "SHA256:LabPlaceholderDcCp3AAAAAAAAAAAAAAAAAAAAAAAA"
  "dc-linux-1"  = "SHA256:LabPlaceholderDcLinux1AAAAAAAAAAAAAAAAAAAAA"
  "dc-win-1"    = "SHA256:LabPlaceholderDcWin1AAAAAAAAAAAAAAAAAAAAAAA"
}
