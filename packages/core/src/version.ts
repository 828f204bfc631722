/** The lab's version as peers announce it in their hello. */
export const LAB_VERSION = '0.1.0';
