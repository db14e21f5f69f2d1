# Registers the kubelet as a Windows service (kubelet.exe --windows-service, so the service
# control manager talks to the kubelet itself) with this node's flags, or updates the
# registered command line, then (re)starts it. Written by fleetform; run it again whenever
# this file changes.
$ErrorActionPreference = 'Stop'

$BinaryPathName = {{ binary_path_name | ps }}

New-Item -ItemType Directory -Force -Path {% for directory in directories %}{% if not loop.first %}, {% endif %}{{ directory | ps }}{% endfor %} | Out-Null

$service = Get-CimInstance -ClassName Win32_Service -Filter "Name='kubelet'"
if ($null -eq $service) {
    New-Service -Name kubelet -BinaryPathName $BinaryPathName -DisplayName 'kubelet' `
        -Description 'kubelet: The Kubernetes Node Agent' -StartupType Automatic -DependsOn containerd | Out-Null
} elseif ($service.PathName -ne $BinaryPathName) {
    $result = Invoke-CimMethod -InputObject $service -MethodName Change -Arguments @{ PathName = $BinaryPathName }
    if ($result.ReturnValue -ne 0) { throw "updating the kubelet service failed with code $($result.ReturnValue)" }
}
Set-Service -Name kubelet -StartupType Automatic

# Restart after a crash, as the kubelet's systemd unit does on Linux (Restart=always, RestartSec=10).
sc.exe failure kubelet reset= 0 actions= restart/10000/restart/10000/restart/10000 | Out-Null
if ($LASTEXITCODE -ne 0) { throw 'setting the kubelet service recovery actions failed' }

if ($null -eq (Get-NetFirewallRule -Name kubelet -ErrorAction SilentlyContinue)) {
    New-NetFirewallRule -Name kubelet -DisplayName 'kubelet' -Enabled True -Direction Inbound `
        -Protocol TCP -Action Allow -LocalPort 10250 | Out-Null
}

Restart-Service -Name kubelet
