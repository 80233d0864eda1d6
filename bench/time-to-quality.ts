export async function timeToQualityCli(argv: string[]): Promise<void> { void argv; }
