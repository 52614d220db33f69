/** A nominal type: a value of `Brand<string, 'StudyInstanceUID'>` cannot pass for another brand. */
export type Brand<T, B extends string> = T & { readonly __brand: B };
