; Inno Setup script for Parley (Inno Setup 6). Packs dist\parley\ (built by
; `python -m PyInstaller packaging\parley.spec` on Windows) into
; dist\Parley-<version>-windows-x64-setup.exe:
;   iscc /DAppVersion=0.1.0 packaging\windows\parley.iss
; Per-user install by default (no admin prompt), Start-menu entry for the
; windowed parleyw.exe, optional desktop icon, optional `parley` on PATH for
; the terminal, and an uninstaller (Settings > Apps) that removes the program
; and leaves the user's settings, history and models.

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#define AppName "Parley"
#define BundleDir "..\..\dist\parley"

[Setup]
; A fixed AppId ties upgrades and the uninstaller to this app: never change it.
AppId={{6F4C2B7E-3A1D-4E8F-9B62-5C7D1E0A9F34}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=Parley
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename=Parley-{#AppVersion}-windows-x64-setup
SetupIconFile=..\..\build\icons\parley.ico
UninstallDisplayIcon={app}\parleyw.exe
UninstallDisplayName={#AppName}
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
ChangesEnvironment=yes
CloseApplications=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "addtopath"; Description: "Add the parley command to PATH (for the terminal)"; Flags: unchecked

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\parleyw.exe"; WorkingDir: "{app}"; Comment: "An offline voice assistant"
Name: "{group}\Start or stop listening"; Filename: "{app}\parleyw.exe"; Parameters: "toggle"; WorkingDir: "{app}"
Name: "{group}\Uninstall {#AppName}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\parleyw.exe"; WorkingDir: "{app}"; Tasks: desktopicon

[Registry]
; Per-user PATH entry (HKCU works without admin); removed again on uninstall.
Root: HKCU; Subkey: "Environment"; ValueType: expandsz; ValueName: "Path"; ValueData: "{olddata};{app}"; Tasks: addtopath; Check: NeedsAddPath(ExpandConstant('{app}'))

[Run]
Filename: "{app}\parleyw.exe"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Files the app writes beside itself (PyInstaller caches); user data lives in
; %APPDATA% / %LOCALAPPDATA%\parley and is kept.
Type: filesandordirs; Name: "{app}\_internal\__pycache__"

[Code]
function NeedsAddPath(Dir: string): Boolean;
var
  Paths: string;
begin
  if not RegQueryStringValue(HKCU, 'Environment', 'Path', Paths) then
  begin
    Result := True;
    exit;
  end;
  Result := Pos(';' + Uppercase(Dir) + ';', ';' + Uppercase(Paths) + ';') = 0;
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
var
  Paths, Dir: string;
  P: Integer;
begin
  if CurUninstallStep <> usPostUninstall then
    exit;
  if not RegQueryStringValue(HKCU, 'Environment', 'Path', Paths) then
    exit;
  Dir := ';' + ExpandConstant('{app}');
  P := Pos(Uppercase(Dir), Uppercase(Paths));
  if P > 0 then
  begin
    Delete(Paths, P, Length(Dir));
    RegWriteExpandStringValue(HKCU, 'Environment', 'Path', Paths);
  end;
end;
