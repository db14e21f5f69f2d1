# Installs containerd and the kubelet for Kubernetes on Windows Server, as sig-windows-tools'
# Install-Containerd.ps1 and PrepareNode.ps1 do: the Containers feature, containerd
# registered as a service, and kubelet.exe in C:\k. Downloads are checked against the
# published SHA-256 sums. Written by fleetform; hosts built from images with both already
# installed skip this step. Exits with 3010 when Windows must restart before continuing.
$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'

$KubernetesVersion = {{ kubernetes_version | ps }}
$ContainerdVersion = {{ containerd_version | ps }}
$KubernetesPath = 'C:\k'
$ContainerdPath = Join-Path $env:ProgramFiles 'containerd'

function Get-VerifiedFile([string] $Url, [string] $ChecksumUrl, [string] $Destination) {
    curl.exe --silent --show-error --fail --location --output $Destination $Url
    if ($LASTEXITCODE -ne 0) { throw "downloading $Url failed" }
    $expected = ((curl.exe --silent --show-error --fail --location $ChecksumUrl) -join ' ').Trim().Split(' ')[0]
    if ($LASTEXITCODE -ne 0) { throw "downloading $ChecksumUrl failed" }
    $actual = (Get-FileHash -Algorithm SHA256 -Path $Destination).Hash
    if ($actual -ne $expected) {
        Remove-Item -Force $Destination
        throw "the SHA-256 of $Url is $actual, but $ChecksumUrl says $expected"
    }
}

if (-not (Get-WindowsFeature -Name Containers).Installed) {
    Install-WindowsFeature -Name Containers | Out-Null
    Write-Output 'The Containers feature was installed: restart Windows, then run this script again.'
    exit 3010
}

New-Item -ItemType Directory -Force -Path $KubernetesPath, $ContainerdPath, 'C:\opt\cni\bin', 'C:\etc\cni\net.d' | Out-Null

$containerdArchive = Join-Path $env:TEMP "containerd-$ContainerdVersion-windows-amd64.tar.gz"
$containerdUrl = "https://github.com/containerd/containerd/releases/download/v$ContainerdVersion/containerd-$ContainerdVersion-windows-amd64.tar.gz"
Get-VerifiedFile $containerdUrl "$containerdUrl.sha256sum" $containerdArchive
$containerdService = Get-Service -Name containerd -ErrorAction SilentlyContinue
if ($null -ne $containerdService -and $containerdService.Status -ne 'Stopped') {
    Stop-Service -Name containerd
}
tar.exe -xf $containerdArchive --strip-components=1 -C $ContainerdPath
if ($LASTEXITCODE -ne 0) { throw "unpacking $containerdArchive failed" }
Remove-Item -Force $containerdArchive
if ($null -eq $containerdService) {
    & (Join-Path $ContainerdPath 'containerd.exe') --register-service
    if ($LASTEXITCODE -ne 0) { throw 'registering the containerd service failed' }
}
Start-Service -Name containerd

$machinePath = [Environment]::GetEnvironmentVariable('Path', [EnvironmentVariableTarget]::Machine)
foreach ($directory in @($ContainerdPath, $KubernetesPath)) {
    if (($machinePath -split ';') -notcontains $directory) { $machinePath = "$machinePath;$directory" }
}
[Environment]::SetEnvironmentVariable('Path', $machinePath, [EnvironmentVariableTarget]::Machine)

$kubeletUrl = "https://dl.k8s.io/v$KubernetesVersion/bin/windows/amd64/kubelet.exe"
$kubeletDownload = Join-Path $env:TEMP "kubelet-$KubernetesVersion.exe"
Get-VerifiedFile $kubeletUrl "$kubeletUrl.sha256" $kubeletDownload
# An upgrade replaces the binary of a running service: stop it for the swap, start it again after.
$kubeletService = Get-Service -Name kubelet -ErrorAction SilentlyContinue
$kubeletWasRunning = $null -ne $kubeletService -and $kubeletService.Status -eq 'Running'
if ($kubeletWasRunning) { Stop-Service -Name kubelet }
Move-Item -Force $kubeletDownload (Join-Path $KubernetesPath 'kubelet.exe')
if ($kubeletWasRunning) { Start-Service -Name kubelet }
